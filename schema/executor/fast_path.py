"""The lean executor's entry point: a document in, an answer out (or None, for
Strawberry to run it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from graphql import GraphQLField, GraphQLObjectType, GraphQLOutputType, get_variable_values
from strawberry import Schema

from schema.context import Context
from schema.documents import Documents
from schema.errors import coded
from schema.executor.compat import argument_converter, graphql_schema
from schema.executor.errors import place_errors
from schema.executor.inline import Objects, objects_of
from schema.executor.plan import HANDED_OVER, Prepared, prepare
from schema.executor.resolvers import FastInfo, Resolver, resolver_for
from schema.executor.run import ResponseTooLarge, Run
from schema.executor.shapes import Shape, is_text, leaf, leaves, shape
from schema.limits import too_complex

# A whole level's leaf completer, and whether its values are text.
Leaves = tuple[Callable[[Sequence[Any]], list[Any]], bool]


class Answer(NamedTuple):
    """What the lean executor answers: a response body, and whether the document was
    refused before it ran (a GraphQL-over-HTTP request error: no `data`). A tuple: one
    is made per request, and a frozen dataclass's __init__ costs several times more."""

    payload: dict[str, Any]
    refused: bool = False


class FastPath:
    """The lean executor for one schema, with what it learns of the schema's fields
    and types kept across requests."""

    def __init__(self, schema: Schema, *, max_response_bytes: int = 64 * 1024 * 1024) -> None:
        """`max_response_bytes` bounds what one answer may hold in memory (estimated
        as the JSON it serialises to); past it the request gets QUERY_TOO_COMPLEX."""
        self.schema = schema
        self.gql = graphql_schema(schema)
        self.documents: Documents = schema.documents  # type: ignore[attr-defined]
        self.max_response_bytes = max_response_bytes
        self.argument_converter = argument_converter(schema)
        self.handed_over = 0
        # By id() of the graphql-core field, which the schema keeps alive.
        self.resolvers: dict[int, Resolver] = {}
        self._leaves: dict[GraphQLOutputType, Callable[[Any], Any]] = {}
        self._many_leaves: dict[GraphQLOutputType, Leaves] = {}
        self._shapes: dict[GraphQLOutputType, Shape] = {}
        self._objects: dict[GraphQLOutputType, Objects | None] = {}

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        context: Context,
    ) -> Answer | None:
        """The answer to a query document; None for a document this executor does not
        take on (mutations, subscriptions, introspection), which Strawberry runs.

        Once a document is taken on, every outcome is answered here: errors are
        placed at their paths as graphql-core places them, unexpected ones masked.
        """
        checked = self.documents.get(query)
        if checked.errors:
            return Answer({"errors": [e.formatted for e in checked.errors]}, refused=True)
        problem = self.documents.request_error(checked, operation_name, variables)
        if problem is not None:
            return Answer({"errors": [problem.formatted]}, refused=True)
        prepared = prepare(checked, operation_name)
        if not isinstance(prepared, Prepared):
            if prepared is HANDED_OVER:
                self.handed_over += 1
            return None
        plain = prepared.plain_variables
        values = None if plain is None else plain(variables or {})
        if values is None:
            coerced = get_variable_values(
                self.gql, prepared.operation.variable_definitions or (), variables or {}
            )
            if isinstance(coerced, list):
                refusals = [coded(error, "BAD_USER_INPUT").formatted for error in coerced]
                return Answer({"errors": refusals}, refused=True)
            values = coerced.coerced
        run = Run(self, prepared, values, FastInfo(context))
        try:
            data = await run.root(self.gql.query_type)  # type: ignore[arg-type]
        except ResponseTooLarge:
            error = too_complex(
                "responseBytes", run.size, self.max_response_bytes, "answer's size in bytes"
            )
            return Answer({"data": None, "errors": [error.formatted]})
        if not run.failures:
            return Answer({"data": data})
        placed, errors = place_errors(run, data, context.request_id)
        return Answer({"data": placed, "errors": errors})

    def add_resolver(self, parent: GraphQLObjectType, definition: GraphQLField) -> Resolver:
        """How `parent`'s field `definition` resolves, found on its first request."""
        resolver = self.resolvers[id(definition)] = resolver_for(definition)
        return resolver

    def leaf_completer(self, return_type: GraphQLOutputType) -> Callable[[Any], Any]:
        """Serialises a scalar or enum field's value (or list of them); made once per type."""
        completer = self._leaves.get(return_type)
        if completer is None:
            completer = self._leaves[return_type] = leaf(return_type)
        return completer

    def leaves_completer(self, return_type: GraphQLOutputType) -> Leaves:
        """`leaf_completer` for a whole level's values at once, and whether they are text
        (whose length counts in the answer's size); made once per type."""
        found = self._many_leaves.get(return_type)
        if found is None:
            complete = leaves(return_type, self.leaf_completer(return_type))
            found = self._many_leaves[return_type] = (complete, is_text(return_type))
        return found

    def shape(self, return_type: GraphQLOutputType) -> Shape:
        """Completes a value of an object, list or interface type; made once per type."""
        found = self._shapes.get(return_type)
        if found is None:
            found = self._shapes[return_type] = shape(return_type, self.gql)
        return found

    def objects(self, return_type: GraphQLOutputType) -> Objects | None:
        """`objects_of(return_type)` (schema/executor/inline.py); read once per type."""
        try:
            return self._objects[return_type]
        except KeyError:
            found = self._objects[return_type] = objects_of(return_type)
            return found
