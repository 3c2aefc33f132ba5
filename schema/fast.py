"""A lean executor for read-only documents: the same resolvers, level by level.

graphql-core resolves every field of every object on its own, with a coroutine
(and often a task) per relationship per object; most of a nested query's CPU
goes there. This executor walks a query breadth-first: each level's objects are
grouped by the field that produced them, and a relationship resolves once for
the whole group through its batch form (`@batch`), which calls the same loaders
as the per-object resolver (schema/batching.py). Statement counts are
unchanged; Python work is not repeated per object.

It handles only what it can answer exactly; anything else (mutations,
introspection, custom directives, any error at all) returns None, and the
caller runs the document through Strawberry, which reports errors as usual.
Reads change nothing, so running a document twice is harmless.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_operation_ast,
)
from graphql.execution.values import (
    VariableValues,
    get_argument_values,
    get_directive_values,
    get_variable_values,
)
from graphql.type import GraphQLIncludeDirective, GraphQLSkipDirective
from strawberry.schema.schema import Schema
from strawberry.types.arguments import convert_arguments
from strawberry.types.field import StrawberryField

from schema.batching import batch_of
from schema.context import Context
from schema.documents import Checked, Documents
from schema.eager import gather_eagerly
from schema.errors import ApiError, coded
from schema.fast_errors import Failed, Failure, place_errors
from schema.limits import too_complex

log = logging.getLogger("storefront.fast")

DEFINITION = "strawberry-definition"
TEXT_SCALARS = frozenset({"String", "ID"})
SCALAR_PASS_THROUGH = {"String": str, "Int": int, "Boolean": bool, "ID": str}


class FastInfo:
    """What our resolvers read from `info`: the request's context, and the field's
    nodes and the document's fragments (for schema/lookahead.py)."""

    __slots__ = ("context", "field_nodes", "fragments")

    def __init__(
        self,
        context: Context,
        field_nodes: Sequence[FieldNode] = (),
        fragments: dict[str, FragmentDefinitionNode] | None = None,
    ) -> None:
        self.context = context
        self.field_nodes = field_nodes
        self.fragments = fragments or {}


class Unanswerable(Exception):
    """A resolver gave a value its field's type cannot hold (null in a non-null field)."""


HANDED_OVER = object()


@dataclass(frozen=True, slots=True)
class Prepared:
    """A document checked once, and what its runs can share.

    Field collection is shared unless @skip/@include make it depend on variables;
    a field's arguments are shared when they use no variables.
    """

    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    conditional: bool
    collected: dict[tuple[str, tuple[int, ...]], dict[str, list[FieldNode]]] = field(
        default_factory=dict
    )
    arguments: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class Group:
    """Objects of one type at one level, produced by the same field nodes."""

    type: GraphQLObjectType
    selections: tuple[SelectionSetNode, ...]
    sources: list[Any] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Answer:
    """What the lean executor answers: a response body, and whether the document was
    refused before it ran (a GraphQL-over-HTTP request error: no `data`)."""

    payload: dict[str, Any]
    refused: bool = False


class ResponseTooLarge(Exception):
    """The answer would outgrow the response-size bound."""


class FastPath:
    def __init__(self, schema: Schema, *, max_response_bytes: int = 64 * 1024 * 1024) -> None:
        """`max_response_bytes` bounds what one answer may hold in memory (estimated
        as the JSON it serialises to); past it the request gets QUERY_TOO_COMPLEX."""
        self.schema = schema
        self.gql = schema._schema
        self.documents: Documents = schema.documents  # type: ignore[attr-defined]
        self.max_response_bytes = max_response_bytes
        self.handed_over = 0
        self._wants_info: dict[Callable[..., Any], bool] = {}
        self._leaves: dict[GraphQLOutputType, Callable[[Any], Any]] = {}
        self._many_leaves: dict[GraphQLOutputType, Callable[[Sequence[Any]], list[Any]]] = {}
        self._shapes: dict[GraphQLOutputType, Shape] = {}

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
        prepared = self._prepare(checked, operation_name)
        if not isinstance(prepared, Prepared):
            if prepared is HANDED_OVER:
                self.handed_over += 1
            return None
        coerced = get_variable_values(
            self.gql, prepared.operation.variable_definitions or (), variables or {}
        )
        if isinstance(coerced, list):
            refusals = [coded(error, "BAD_USER_INPUT").formatted for error in coerced]
            return Answer({"errors": refusals}, refused=True)
        run = _Run(self, prepared, coerced.coerced, FastInfo(context))
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

    def _prepare(self, checked: Checked, operation_name: str | None) -> Prepared | object | None:
        """The document's plan; HANDED_OVER for a query this executor does not answer;
        None for anything that is not a query."""
        if operation_name not in checked.lean:
            checked.lean[operation_name] = self._build(checked, operation_name)
        prepared: Prepared | object | None = checked.lean[operation_name]
        return prepared

    def _build(self, checked: Checked, operation_name: str | None) -> Prepared | object | None:
        document = checked.document
        assert document is not None
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation != OperationType.QUERY:
            return None
        directives = _directives(document)
        if directives - {"skip", "include"}:
            # Counted per request, logged once per document: a query shape worth
            # teaching this executor if it shows up in real traffic.
            log.warning(
                "lean executor hands a query over to Strawberry (uses %s): %.80r",
                ", ".join(sorted(directives - {"skip", "include"})),
                operation.name.value if operation.name else "anonymous query",
            )
            return HANDED_OVER
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        return Prepared(operation=operation, fragments=fragments, conditional=bool(directives))

    def batch_for(self, type_name: str, field: StrawberryField) -> Callable[..., Any] | None:
        return batch_of(field)

    def leaf_completer(self, return_type: GraphQLOutputType) -> Callable[[Any], Any]:
        """Serialises a scalar or enum field's value (or list of them); made once per type."""
        completer = self._leaves.get(return_type)
        if completer is None:
            completer = self._leaves[return_type] = _leaf(return_type)
        return completer

    def leaves_completer(
        self, return_type: GraphQLOutputType
    ) -> Callable[[Sequence[Any]], list[Any]]:
        """`leaf_completer` for a whole level's values at once; made once per type."""
        completer = self._many_leaves.get(return_type)
        if completer is None:
            completer = self._many_leaves[return_type] = _leaves(
                return_type, self.leaf_completer(return_type)
            )
        return completer

    def shape(self, return_type: GraphQLOutputType) -> Shape:
        shape = self._shapes.get(return_type)
        if shape is None:
            shape = self._shapes[return_type] = _shape(return_type, self.gql)
        return shape

    def is_text(self, return_type: GraphQLOutputType) -> bool:
        """Whether a leaf field's values are strings, whose length counts in the answer."""
        inner = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
        return isinstance(inner, GraphQLScalarType) and inner.name in TEXT_SCALARS

    def wants_info(self, fn: Callable[..., Any]) -> bool:
        if fn not in self._wants_info:
            self._wants_info[fn] = "info" in inspect.signature(fn).parameters
        return self._wants_info[fn]


def _leaves(
    return_type: GraphQLOutputType, leaf: Callable[[Any], Any]
) -> Callable[[Sequence[Any]], list[Any]]:
    """Serialises a level's values of one leaf field: a built-in scalar (nearly every
    leaf) in one comprehension, anything else value by value through `leaf`."""
    inner = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
    python_type = (
        SCALAR_PASS_THROUGH.get(inner.name) if isinstance(inner, GraphQLScalarType) else None
    )
    if python_type is None:
        return lambda values: [leaf(value) for value in values]

    def scalars(values: Sequence[Any]) -> list[Any]:
        if all(type(value) is python_type for value in values):
            return list(values)
        return [leaf(value) for value in values]

    return scalars


def _leaf(return_type: GraphQLOutputType) -> Callable[[Any], Any]:
    if isinstance(return_type, GraphQLNonNull):
        inner = _leaf(return_type.of_type)

        def non_null(value: Any) -> Any:
            if value is None:
                raise Unanswerable("null in a non-null field")
            return inner(value)

        return non_null
    if isinstance(return_type, GraphQLList):
        item = _leaf(return_type.of_type)
        return lambda value: None if value is None else [item(v) for v in value]
    if not isinstance(return_type, GraphQLScalarType | GraphQLEnumType):
        raise Unanswerable(f"{return_type} is not a leaf type")
    serialize = return_type.serialize
    python_type = SCALAR_PASS_THROUGH.get(return_type.name)

    def scalar(value: Any) -> Any:
        if value is None:
            return None
        # Built-in scalars already of their type need no serialising.
        return value if type(value) is python_type else serialize(value)

    return scalar


def _directives(document: DocumentNode) -> set[str]:
    """The names of the directives a document uses; "__introspection" if it introspects."""
    found: set[str] = set()
    stack: list[Any] = list(document.definitions)
    while stack:
        node = stack.pop()
        for directive in getattr(node, "directives", None) or ():
            found.add(directive.name.value)
        if (
            isinstance(node, FieldNode)
            and node.name.value.startswith("__")
            and node.name.value != "__typename"
        ):
            found.add("__introspection")
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return found


def _uses_variables(node: Any) -> bool:
    """Whether an argument value (or any value nested in it) is a $variable."""
    if isinstance(node, VariableNode):
        return True
    if isinstance(node, ListValueNode):
        return any(_uses_variables(value) for value in node.values)
    if isinstance(node, ObjectValueNode):
        return any(_uses_variables(f.value) for f in node.fields)
    return False


class _Run:
    def __init__(
        self, path: FastPath, prepared: Prepared, variables: dict[str, Any], info: FastInfo
    ) -> None:
        self.path = path
        self.prepared = prepared
        self.variables = variables
        self.info = info
        self.variable_values = _variables(variables)
        self._collected = {} if prepared.conditional else prepared.collected
        self._arguments: dict[int, dict[str, Any]] = {}
        self.levels: list[list[Group]] = []
        self.failures: list[Failure] = []
        # The answer's estimated JSON size so far (schema/fast.py, ResponseTooLarge).
        self.size = 0

    async def root(self, query_type: GraphQLObjectType) -> dict[str, Any]:
        data: dict[str, Any] = {}
        level = [Group(query_type, (self.prepared.operation.selection_set,), [None], [data])]
        while level:
            self.levels.append(level)
            level = await self._resolve_level(level)
        return data

    async def _resolve_level(self, level: list[Group]) -> list[Group]:
        next_level: dict[tuple[str, tuple[int, ...]], Group] = {}
        pending: list[Awaitable[None]] = []
        for group in level:
            fields = self.collect(group.type, group.selections)
            for out in group.outputs:
                for key in fields:
                    out[key] = None
            for key, nodes in fields.items():
                name = nodes[0].name.value
                if name == "__typename":
                    for out in group.outputs:
                        out[key] = group.type.name
                    continue
                definition = group.type.fields[name]
                try:
                    values = self._values(group.sources, group.type, definition, nodes)
                except Exception as exc:
                    pending.append(self._one_by_one(group, key, definition, nodes, exc, next_level))
                    continue
                if isinstance(values, list):
                    self._complete_all(group, key, definition.type, nodes, values, next_level)
                else:
                    pending.append(self._later(group, key, definition, nodes, values, next_level))
        # Together, so that every batch of the level joins its loader's queue
        # before any is dispatched.
        await gather_eagerly(pending)
        return list(next_level.values())

    async def _later(
        self,
        group: Group,
        key: str,
        definition: GraphQLField,
        nodes: list[FieldNode],
        values: Awaitable[list[Any]],
        next_level: dict[tuple[str, tuple[int, ...]], Group],
    ) -> None:
        try:
            resolved = await values
        except Exception as exc:
            await self._one_by_one(group, key, definition, nodes, exc, next_level)
            return
        self._complete_all(group, key, definition.type, nodes, resolved, next_level)

    async def _one_by_one(
        self,
        group: Group,
        key: str,
        definition: GraphQLField,
        nodes: list[FieldNode],
        error: Exception,
        next_level: dict[tuple[str, tuple[int, ...]], Group],
    ) -> None:
        """A field that failed for its whole group, resolved object by object, as
        Strawberry would: a refusal for one object (FORBIDDEN for another user's
        orders) must not fail the others. Its loaders still batch the objects."""
        if len(group.sources) == 1 or not isinstance(error, ApiError):
            values: list[Any] = [Failed(error)] * len(group.sources)
        else:
            values = list(
                await gather_eagerly(
                    [self._one(source, group.type, definition, nodes) for source in group.sources]
                )
            )
        self._complete_each(group, key, definition.type, nodes, values, next_level)

    async def _one(
        self,
        source: Any,
        parent: GraphQLObjectType,
        definition: GraphQLField,
        nodes: list[FieldNode],
    ) -> Any:
        try:
            values = self._values([source], parent, definition, nodes)
            [value] = values if isinstance(values, list) else await values
        except Exception as exc:
            return Failed(exc)
        return value

    def _values(
        self,
        sources: list[Any],
        parent: GraphQLObjectType,
        definition: GraphQLField,
        nodes: list[FieldNode],
    ) -> list[Any] | Awaitable[list[Any]]:
        """Every source's value of one field: at once, or as one awaitable for them all."""
        strawberry_field: StrawberryField = definition.extensions[DEFINITION]
        resolver = strawberry_field.base_resolver
        if resolver is None:
            name = strawberry_field.python_name
            return [getattr(source, name) for source in sources]
        kwargs = self._kwargs(definition, strawberry_field, nodes[0])
        batched = self.path.batch_for(parent.name, strawberry_field)
        if batched is not None:
            if self.path.wants_info(batched):
                kwargs = {**kwargs, "info": self._info(nodes)}
            return batched(sources, **kwargs)  # type: ignore[no-any-return]
        fn: Callable[..., Any] = resolver.wrapped_func  # type: ignore[assignment]
        if self.path.wants_info(fn):
            kwargs = {**kwargs, "info": self._info(nodes)}
        results = [fn(source, **kwargs) for source in sources]
        if any(inspect.isawaitable(result) for result in results):
            return _gather_all(results)
        return results

    def _info(self, nodes: list[FieldNode]) -> FastInfo:
        return FastInfo(self.info.context, nodes, self.prepared.fragments)

    def _kwargs(
        self, definition: GraphQLField, strawberry_field: StrawberryField, node: FieldNode
    ) -> dict[str, Any]:
        cached = self.prepared.arguments.get(id(node))
        if cached is None:
            cached = self._arguments.get(id(node))
        if cached is None:
            raw = get_argument_values(definition, node, self.variable_values)
            converter = self.path.schema.schema_converter
            cached = convert_arguments(
                raw,
                strawberry_field.arguments,
                scalar_registry=converter.scalar_registry,
                config=self.path.schema.config,
                info=self.info,  # type: ignore[arg-type]
            )
            shared = not any(_uses_variables(argument.value) for argument in node.arguments or ())
            (self.prepared.arguments if shared else self._arguments)[id(node)] = cached
        return cached

    def _complete_all(
        self,
        group: Group,
        key: str,
        return_type: GraphQLOutputType,
        nodes: list[FieldNode],
        values: Sequence[Any],
        next_level: dict[tuple[str, tuple[int, ...]], Group],
    ) -> None:
        if len(values) != len(group.outputs):
            error = Unanswerable("a batch resolver returned the wrong number of values")
            values = [Failed(error)] * len(group.outputs)
            self._complete_each(group, key, return_type, nodes, values, next_level)
            return
        if not nodes[0].selection_set:
            try:
                completed = self.path.leaves_completer(return_type)(values)
            except Exception:
                # One value this field's type cannot hold: find it, value by value.
                self._complete_each(group, key, return_type, nodes, values, next_level)
                return
            for out, value in zip(group.outputs, completed, strict=True):
                out[key] = value
            self._grow(len(key), completed, self.path.is_text(return_type))
            return
        selections = tuple(n.selection_set for n in nodes if n.selection_set is not None)
        completer = _Completer(self, selections, next_level)
        shape = self.path.shape(return_type)
        try:
            for out, value in zip(group.outputs, values, strict=True):
                out[key] = shape(value, completer)
        except Unanswerable:
            self._complete_each(group, key, return_type, nodes, values, next_level)
            return
        self._grow(len(key), values, False)

    def _complete_each(
        self,
        group: Group,
        key: str,
        return_type: GraphQLOutputType,
        nodes: list[FieldNode],
        values: Sequence[Any],
        next_level: dict[tuple[str, tuple[int, ...]], Group],
    ) -> None:
        """`_complete_all` for a field with failures: each value completed on its own,
        each failure kept for `place_errors`."""
        nullable = not isinstance(return_type, GraphQLNonNull)
        leaf = not nodes[0].selection_set
        selections = tuple(n.selection_set for n in nodes if n.selection_set is not None)
        completer = _Completer(self, selections, next_level)
        for out, value in zip(group.outputs, values, strict=True):
            try:
                if isinstance(value, Failed):
                    raise value.error
                if leaf:
                    out[key] = self.path.leaf_completer(return_type)(value)
                else:
                    out[key] = self.path.shape(return_type)(value, completer)
            except Exception as exc:
                out[key] = None
                self.failures.append(Failure(out, key, nodes, nullable, exc))
        self._grow(len(key), values, False)

    def _grow(self, key_length: int, values: Sequence[Any], text: bool) -> None:
        """Count a field's values into the answer's size; ResponseTooLarge past the bound."""
        size = len(values) * (key_length + 8)
        if text:
            size += sum(map(len, filter(None, values)))
        self.size += size
        if self.size > self.path.max_response_bytes:
            raise ResponseTooLarge

    def collect(
        self, object_type: GraphQLObjectType, selections: tuple[SelectionSetNode, ...]
    ) -> dict[str, list[FieldNode]]:
        key = (object_type.name, tuple(id(s) for s in selections))
        collected = self._collected.get(key)
        if collected is None:
            collected = {}
            for selection_set in selections:
                self._collect_into(object_type, selection_set, collected, set())
            self._collected[key] = collected
        return collected

    def _collect_into(
        self,
        object_type: GraphQLObjectType,
        selection_set: SelectionSetNode,
        collected: dict[str, list[FieldNode]],
        visited: set[str],
    ) -> None:
        for selection in selection_set.selections:
            if not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                name = (selection.alias or selection.name).value
                collected.setdefault(name, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or self._applies(condition.name.value, object_type):
                    self._collect_into(object_type, selection.selection_set, collected, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.prepared.fragments.get(name)
                if name in visited or fragment is None:
                    continue
                visited.add(name)
                if self._applies(fragment.type_condition.name.value, object_type):
                    self._collect_into(object_type, fragment.selection_set, collected, visited)

    def _applies(self, condition: str, object_type: GraphQLObjectType) -> bool:
        if condition == object_type.name:
            return True
        return any(interface.name == condition for interface in object_type.interfaces)

    def _included(self, node: Any) -> bool:
        if not node.directives:
            return True
        variables = self.variable_values
        skip = get_directive_values(GraphQLSkipDirective, node, variables)
        if skip is not None and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, variables)
        return not (include is not None and include.get("if") is False)


class _Completer:
    """Queues one field's objects for the next level, grouped by their runtime type."""

    def __init__(
        self,
        run: _Run,
        selections: tuple[SelectionSetNode, ...],
        next_level: dict[tuple[str, tuple[int, ...]], Group],
    ) -> None:
        self.run = run
        self.selections = selections
        self.selection_ids = tuple(id(s) for s in selections)
        self.next_level = next_level
        self.adders: dict[str, Callable[[Any], dict[str, Any]]] = {}

    def add(self, object_type: GraphQLObjectType, value: Any) -> dict[str, Any]:
        """A placeholder for `value`'s JSON object, filled in when the next level runs."""
        return self.adder(object_type)(value)

    def adder(self, object_type: GraphQLObjectType) -> Callable[[Any], dict[str, Any]]:
        """`add` for one object type, with its group looked up once."""
        add = self.adders.get(object_type.name)
        if add is None:
            key = (object_type.name, self.selection_ids)
            group = self.next_level.get(key)
            if group is None:
                group = self.next_level[key] = Group(object_type, self.selections)
            add = self.adders[object_type.name] = _adder(group)
        return add


def _adder(group: Group) -> Callable[[Any], dict[str, Any]]:
    sources, outputs = group.sources.append, group.outputs.append

    def add(value: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        sources(value)
        outputs(out)
        return out

    return add


Shape = Callable[[Any, _Completer], Any]


def _shape(return_type: GraphQLOutputType, gql: GraphQLSchema) -> Shape:
    """Completes a value of an object (or list, or interface) type; made once per type.

    An object type, or a list of one, nullable or not (nearly every field), gets one
    closure with the checks inline: this runs once per object of a response.
    """
    required = isinstance(return_type, GraphQLNonNull)
    inner = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
    if isinstance(inner, GraphQLObjectType):
        return _object_shape(inner, required)
    if isinstance(inner, GraphQLList):
        item = inner.of_type
        item_required = isinstance(item, GraphQLNonNull)
        item_type = item.of_type if isinstance(item, GraphQLNonNull) else item
        if isinstance(item_type, GraphQLObjectType):
            return _list_shape(item_type, required, item_required)
    return _any_shape(return_type, gql)


def _object_shape(object_type: GraphQLObjectType, required: bool) -> Shape:
    def complete(value: Any, completer: _Completer) -> Any:
        if value is None:
            if required:
                raise Unanswerable("null in a non-null field")
            return None
        return completer.adder(object_type)(value)

    return complete


def _list_shape(item_type: GraphQLObjectType, required: bool, item_required: bool) -> Shape:
    def complete(values: Any, completer: _Completer) -> Any:
        if values is None:
            if required:
                raise Unanswerable("null in a non-null field")
            return None
        add = completer.adder(item_type)
        if item_required:
            completed = [add(value) for value in values if value is not None]
            if len(completed) != len(values):
                raise Unanswerable("null in a list of non-null items")
            return completed
        return [None if value is None else add(value) for value in values]

    return complete


def _any_shape(return_type: GraphQLOutputType, gql: GraphQLSchema) -> Shape:
    if isinstance(return_type, GraphQLNonNull):
        inner = _any_shape(return_type.of_type, gql)

        def non_null(value: Any, completer: _Completer) -> Any:
            if value is None:
                raise Unanswerable("null in a non-null field")
            return inner(value, completer)

        return non_null
    if isinstance(return_type, GraphQLList):
        item = _any_shape(return_type.of_type, gql)
        return lambda value, completer: (
            None if value is None else [item(v, completer) for v in value]
        )
    if isinstance(return_type, GraphQLObjectType):
        object_type = return_type
        return lambda value, completer: None if value is None else completer.add(object_type, value)
    if isinstance(return_type, GraphQLInterfaceType):

        def abstract(value: Any, completer: _Completer) -> Any:
            if value is None:
                return None
            definition = getattr(type(value), "__strawberry_definition__", None)
            concrete = gql.get_type(definition.name) if definition else None
            if not isinstance(concrete, GraphQLObjectType):
                raise Unanswerable(f"no object type for {type(value).__name__}")
            return completer.add(concrete, value)

        return abstract
    raise Unanswerable(f"cannot complete a value of {return_type}")


async def _gather_all(results: list[Any]) -> list[Any]:
    awaitables = [result for result in results if inspect.isawaitable(result)]
    values = iter(await gather_eagerly(awaitables))
    return [next(values) if inspect.isawaitable(result) else result for result in results]


def _variables(coerced: dict[str, Any]) -> Any:
    return VariableValues(sources={}, coerced=coerced)
