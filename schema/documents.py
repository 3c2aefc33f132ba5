"""Documents parsed, validated and measured once: what every request's document passes through.

A document is read with the token limit, measured against the shape limits
(depth, aliases, root fields) before validation (so validation never sees a
document too large to validate cheaply), then validated against the schema.
The outcome is cached per document text, so honest repeat traffic pays a dict
lookup; the cost, which depends on variables, is cached per document and the
values of the variables it depends on.

Strawberry's pipeline reads the cache through `DocumentChecks` (a schema
extension, so GET, POST, persisted documents and subscriptions all pass it);
the lean executor (schema/executor/) reads it directly.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    Lexer,
    OperationDefinitionNode,
    Source,
    TokenKind,
    get_operation_ast,
    get_variable_values,
    parse,
    specified_rules,
)
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from schema.cost import CostModel
from schema.errors import coded, coded_error
from schema.executor.compat import validate
from schema.hashing import sha256
from schema.limits import Limits, measure_shape, shape_error, too_complex

# Cached documents are bounded in number and in tokens (a parsed document's size
# follows its tokens, not its text: `[1 1 1 ...]` is 4 KB of text and 700 KB of
# tree), so a client sending ever new documents cannot grow memory. And in text: a
# comment or a string is one token of any length, kept twice (the text, and the
# token's value in the tree). Refusals are kept apart, fewer, so that junk neither
# evicts honest documents nor is checked again each time it is sent.
MAX_DOCUMENTS = 1024
MAX_CACHED_TOKENS = 200_000
MAX_CACHED_TEXT = 16 * 1024 * 1024
MAX_REFUSALS = 256
COSTS_PER_DOCUMENT = 64


@dataclass(slots=True)
class Checked:
    """A document's text, read and checked: `errors` is empty when it may run."""

    document: DocumentNode | None
    errors: list[GraphQLError]
    cost_inputs: dict[str | None, frozenset[str]] = field(default_factory=dict)
    costs: OrderedDict[tuple[Any, ...], int] = field(default_factory=OrderedDict)
    # The verdict on each of its operations whose cost no variable changes: most
    # repeat traffic, answered with one dict lookup.
    verdicts: dict[str | None, GraphQLError | None] = field(default_factory=dict)
    # What the lean executor prepared for each operation name (schema/executor/plan.py).
    lean: dict[str | None, Any] = field(default_factory=dict)
    # How logs, metrics and traces name it (`Documents.describe`), made on first need.
    described: dict[str | None, Described] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Described:
    """A document as an operator sees it: its SHA-256 (the APQ hash of its text), the
    operation that ran and its type; never the text, whose literals may be values."""

    digest: str
    operation_type: str | None
    operation_name: str | None


class Documents:
    """The per-process cache of checked documents for one schema and its limits."""

    def __init__(
        self, schema: GraphQLSchema, limits: Limits, trusted: Collection[str] | None = None
    ) -> None:
        """`trusted`: in trusted-documents mode, the SHA-256 of every document allowed."""
        self.schema = schema
        self.limits = limits
        self.trusted = frozenset(trusted) if trusted is not None else None
        self.model = CostModel(schema)
        self.rules = tuple(specified_rules)
        self._cache: OrderedDict[str, Checked] = OrderedDict()
        self._weights: dict[str, int] = {}
        self._tokens = 0
        self._text = 0
        self._refused: OrderedDict[str, Checked] = OrderedDict()

    def get(self, query: str) -> Checked:
        checked = self._cache.get(query)
        if checked is not None:
            self._cache.move_to_end(query)
            return checked
        refused = self._refused.get(query)
        if refused is not None:
            return refused
        checked = self._check(query)
        if checked.errors:
            self._refused[query] = Checked(None, checked.errors)  # no tree kept
            if len(self._refused) > MAX_REFUSALS:
                self._refused.popitem(last=False)
        else:
            self._keep(query, checked)
        return checked

    def describe(self, query: str, operation_name: str | None) -> Described:
        """How to name `query`'s operation `operation_name` in logs and metrics (the
        operation's own name, even when the request named none)."""
        checked = self.get(query)
        described = checked.described.get(operation_name)
        if described is None:
            operation = None
            if checked.document is not None:
                operation = get_operation_ast(checked.document, operation_name)
            described = Described(
                sha256(query),
                None if operation is None else operation.operation.value,
                operation_name
                if operation is None or operation.name is None
                else operation.name.value,
            )
            if operation is not None:
                # Only names the document has: a client cycling through others grows nothing.
                checked.described[operation_name] = described
        return described

    def request_error(
        self, checked: Checked, operation_name: str | None, variables: Mapping[str, Any] | None
    ) -> GraphQLError | None:
        """Why the document may not run with this operation name and these variables: no
        such operation, or an estimated cost over the limit (QUERY_TOO_COMPLEX)."""
        try:
            return checked.verdicts[operation_name]
        except KeyError:
            pass
        assert checked.document is not None
        operation = get_operation_ast(checked.document, operation_name)
        if operation is None:
            message = (
                f"Unknown operation named {operation_name!r}"
                if operation_name
                else "The document has several operations: name one in `operationName`"
            )
            return coded_error(message, "GRAPHQL_VALIDATION_FAILED")
        inputs = checked.cost_inputs.get(operation_name)
        if inputs is None:
            inputs = checked.cost_inputs[operation_name] = self.model.inputs(
                operation, checked.document
            )
        if not inputs:
            verdict = self._verdict(checked, operation, operation_name, {})
            checked.verdicts[operation_name] = verdict
            return verdict
        # Costed as they will run: defaults applied, 100.0 read as 100. Values that do not
        # coerce run nothing; the executor reports them.
        coerced = get_variable_values(
            self.schema, operation.variable_definitions or (), dict(variables or {})
        )
        if isinstance(coerced, list):
            return None
        return self._verdict(checked, operation, operation_name, coerced.coerced, inputs)

    def _verdict(
        self,
        checked: Checked,
        operation: OperationDefinitionNode,
        operation_name: str | None,
        variables: Mapping[str, Any],
        inputs: frozenset[str] = frozenset(),
    ) -> GraphQLError | None:
        assert checked.document is not None
        key = (operation_name, *(_hashable(variables.get(name)) for name in sorted(inputs)))
        cost = checked.costs.get(key)
        if cost is None:
            cost = self.model.cost(operation, checked.document, dict(variables))
            checked.costs[key] = cost
            if len(checked.costs) > COSTS_PER_DOCUMENT:
                checked.costs.popitem(last=False)
        if cost > self.limits.cost:
            return too_complex("cost", cost, self.limits.cost, "estimated cost")
        return None

    def _check(self, query: str) -> Checked:
        if self.trusted is not None and sha256(query) not in self.trusted:
            return Checked(
                None, [coded_error("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")]
            )
        try:
            document = parse(query, max_lexical_tokens=self.limits.tokens)
        except GraphQLSyntaxError as syntax_error:
            return Checked(None, [self._parse_error(query, syntax_error)])
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                problem = shape_error(measure_shape(definition, document), self.limits)
                if problem is not None:
                    return Checked(document, [problem])
        errors = validate(self.schema, document, self.rules)
        return Checked(document, [coded(error, "GRAPHQL_VALIDATION_FAILED") for error in errors])

    def _parse_error(self, query: str, error: GraphQLSyntaxError) -> GraphQLError:
        if "tokens. Parsing aborted" in error.message:
            tokens = _count_tokens(query)
            return too_complex("tokens", tokens, self.limits.tokens, "number of tokens")
        return coded(error, "GRAPHQL_PARSE_FAILED")

    def _keep(self, query: str, checked: Checked) -> None:
        weight = _count_tokens(query)
        self._cache[query] = checked
        self._weights[query] = weight
        self._tokens += weight
        self._text += len(query)
        while (
            len(self._cache) > MAX_DOCUMENTS
            or self._tokens > MAX_CACHED_TOKENS
            or self._text > MAX_CACHED_TEXT
        ):
            dropped, _ = self._cache.popitem(last=False)
            self._tokens -= self._weights.pop(dropped)
            self._text -= len(dropped)


def _hashable(value: Any) -> Any:
    """A variable's value as far as the cost depends on it: a page size, a list's
    length, whether a search is given (never the text itself: keys stay small)."""
    if isinstance(value, int):
        return value
    if isinstance(value, list):
        return ("list", len(value))
    if isinstance(value, dict):
        return ("object", value.get("search") is not None)
    return value is not None


def _count_tokens(query: str) -> int:
    lexer = Lexer(Source(query))
    count = 0
    try:
        while lexer.advance().kind != TokenKind.EOF:
            count += 1
    except GraphQLSyntaxError:
        pass
    return count


REFUSED = parse("query Refused { __typename }")


class DocumentChecks(SchemaExtension):
    """Strawberry's parse and validate steps, answered from `Documents`.

    Strawberry runs mutations, introspection and every WebSocket message (whose
    envelope schema/view.py has checked): on the WebSocket, subscriptions only.
    """

    checked: Checked

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if isinstance(query, str):
            self.checked = _documents(context.schema).get(query)
        else:
            self.checked = Checked(None, [coded_error("`query` must be a string", BAD_INPUT)])
        # A document that does not parse stands in as a trivial query whose validation
        # step (below) reports why: an exception raised here escapes Strawberry's
        # subscription path instead of becoming an error message.
        context.graphql_document = self.checked.document or REFUSED
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        errors = list(self.checked.errors)
        if not errors:
            problem = _message_error(context) or _documents(context.schema).request_error(
                self.checked, context.operation_name, context.variables
            )
            errors = [problem] if problem is not None else []
        context.pre_execution_errors = errors
        yield


BAD_INPUT = "BAD_USER_INPUT"


def _message_error(context: Any) -> GraphQLError | None:
    """Queries and mutations sent over the WebSocket: they are HTTP's, where the request
    deadline and the answer's size bound apply."""
    if getattr(context.context, "over_websocket", False):
        try:
            kind = context.operation_type
        except Exception:  # no such operation: request_error names the problem
            return None
        if kind is not OperationType.SUBSCRIPTION:
            return coded_error(
                "The WebSocket serves subscriptions; send queries and mutations over HTTP",
                BAD_INPUT,
            )
    return None


def _documents(schema: Any) -> Documents:
    documents: Documents = schema.documents
    return documents
