"""The estimated cost of a document: the rows a request makes PostgreSQL produce.

- an object costs 1 and multiplies nothing;
- a connection multiplies its `edges` by its page size (`first`, else `last`,
  else the default page), a list by the bound its field declares (a post's tags,
  an order's lines, `nodes(ids)` by its ids), any other list by `OTHER_LIST`;
- counts (`totalCount`, `postCount`, ...) cost what a count makes PostgreSQL
  visit, and a substring search costs `SEARCH` on top of its list;
- a post's `body`, the one text without a length limit of its own, costs
  `HEAVY_TEXT` rows, so many bodies at once are refused before they are fetched;
- introspection lists are bounded by the schema's own sizes, and `ofType`
  (a type reference's wrapper) neither costs nor deepens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLType,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
)
from graphql.type import (
    SchemaMetaFieldDef,
    TypeMetaFieldDef,
    TypeNameMetaFieldDef,
    get_named_type,
)

from schema.batching import LONGEST
from schema.executor.compat import strawberry_field
from schema.limits import WRAPPERS, fragments_of
from schema.pagination import DEFAULT_PAGE, MAX_PAGE

OTHER_LIST = 100
SEARCH = 1_000
# What a count makes PostgreSQL visit, in rows: a list's totalCount counts every
# row the list pages through; a user's or tag's postCount reads an index range.
COUNTS = {"totalCount": 100, "postCount": 20, "unitsSold": 20}
# Text with no length limit but the request body's (a post's body, up to ~100 KB):
# read for many rows at once, it is most of what a request holds in memory.
HEAVY_TEXT = {("Post", "body"): 50}


class CostModel:
    """Estimates a document's cost against one schema; the schema's sizes bound
    introspection's lists."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        self.list_bounds: dict[tuple[str, str], int] = {
            **_declared_bounds(schema),
            **_introspection_bounds(schema),
        }

    def inputs(self, operation: OperationDefinitionNode, document: DocumentNode) -> frozenset[str]:
        """The variables the cost depends on (page sizes, ids, searches)."""
        found: set[str] = set()
        for node in _all_fields(operation, fragments_of(document)):
            for argument in node.arguments or ():
                if argument.name.value in COST_ARGUMENTS:
                    found.update(_variables_in(argument.value))
        return frozenset(found)

    def cost(
        self,
        operation: OperationDefinitionNode,
        document: DocumentNode,
        variables: Mapping[str, Any],
    ) -> int:
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return 0
        walk = _CostWalk(self, fragments_of(document), variables)
        return walk.selections(operation.selection_set, root, DEFAULT_PAGE)


COST_ARGUMENTS = frozenset({"first", "last", "ids", "search", "filter"})


def _variables_in(value: ValueNode) -> Iterable[str]:
    if isinstance(value, VariableNode):
        yield value.name.value
    elif isinstance(value, ListValueNode):
        for item in value.values:
            yield from _variables_in(item)
    elif isinstance(value, ObjectValueNode):
        for field in value.fields:
            yield from _variables_in(field.value)


def _all_fields(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> Iterable[FieldNode]:
    stack: list[SelectionSetNode] = [operation.selection_set]
    stack.extend(fragment.selection_set for fragment in fragments.values())
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FieldNode):
                yield selection
                if selection.selection_set:
                    stack.append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                stack.append(selection.selection_set)


class _CostWalk:
    def __init__(
        self,
        model: CostModel,
        fragments: dict[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.model = model
        self.fragments = fragments
        self.variables = variables
        self.measured: dict[tuple[str, str, int], int] = {}
        self.visiting: set[str] = set()

    def selections(self, selection_set: SelectionSetNode, parent: GraphQLType, page: int) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self._type(condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, target or parent, page)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value, parent, page)
        return total

    def fragment(self, name: str, parent: GraphQLType, page: int) -> int:
        fragment = self.fragments.get(name)
        if fragment is None or name in self.visiting:
            return 0
        target = self._type(fragment.type_condition.name.value) or parent
        key = (name, get_named_type(parent).name, page)
        if key not in self.measured:
            self.visiting.add(name)
            self.measured[key] = self.selections(fragment.selection_set, target, page)
            self.visiting.discard(name)
        return self.measured[key]

    def field(self, node: FieldNode, parent: GraphQLType, page: int) -> int:
        name = node.name.value
        parent_type = get_named_type(parent)
        definition = _field(parent_type, name)
        if definition is None:
            return 0
        field_type = definition.type
        named = get_named_type(field_type)
        own = COUNTS.get(name, 0)
        if self._argument(node, "search") is not None or self._filter_search(node):
            own += SEARCH
        if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            return own + HEAVY_TEXT.get((parent_type.name, name), 0)
        if name in WRAPPERS:
            return self.selections(node.selection_set, named, page) if node.selection_set else 0
        children = self.selections(node.selection_set, named, page) if node.selection_set else 0
        if named.name.endswith("Connection"):
            return own + 1 + self.selections_in_page(node, named)
        if not _is_list(field_type):
            return own + 1 + children
        count = self._list_length(node, parent_type.name, name, page)
        return own + count * (1 + children)

    def selections_in_page(self, node: FieldNode, connection: GraphQLNamedType) -> int:
        if node.selection_set is None:
            return 0
        return self.selections(node.selection_set, connection, self._page_size(node))

    def _list_length(self, node: FieldNode, parent: str, name: str, page: int) -> int:
        if name == "edges":
            return page
        if name == "nodes" and parent == "Query":
            ids = self._argument(node, "ids")
            return len(ids) if isinstance(ids, list) else 1
        bound = self.model.list_bounds.get((parent, name), OTHER_LIST)
        first = self._argument(node, "first")
        if isinstance(first, int) and not isinstance(first, bool):
            return min(max(first, 0), bound)
        return bound

    def _page_size(self, node: FieldNode) -> int:
        for name in ("first", "last"):
            value = self._argument(node, name)
            if isinstance(value, int) and not isinstance(value, bool):
                # Out-of-range sizes are refused by the resolver with a clearer error.
                return min(max(value, 0), MAX_PAGE)
        return DEFAULT_PAGE

    def _filter_search(self, node: FieldNode) -> bool:
        value = self._argument(node, "filter")
        return isinstance(value, dict) and value.get("search") is not None

    def _argument(self, node: FieldNode, name: str) -> Any:
        for argument in node.arguments or ():
            if argument.name.value == name:
                return _value(argument.value, self.variables)
        return None

    def _type(self, name: str) -> GraphQLNamedType | None:
        return self.model.schema.get_type(name)


def _value(node: ValueNode, variables: Mapping[str, Any]) -> Any:
    """An argument's value as far as the cost needs it (variables not yet coerced)."""
    if isinstance(node, VariableNode):
        return variables.get(node.name.value)
    if isinstance(node, IntValueNode):
        try:
            return int(node.value)
        except ValueError:
            return None
    if isinstance(node, NullValueNode):
        return None
    if isinstance(node, BooleanValueNode):
        return node.value
    if isinstance(node, ListValueNode):
        return [_value(item, variables) for item in node.values]
    if isinstance(node, ObjectValueNode):
        return {field.name.value: _value(field.value, variables) for field in node.fields}
    return getattr(node, "value", None)


def _field(parent: GraphQLNamedType | None, name: str) -> Any:
    if name == "__typename":
        return TypeNameMetaFieldDef
    if name == "__schema":
        return SchemaMetaFieldDef
    if name == "__type":
        return TypeMetaFieldDef
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        return parent.fields.get(name)
    return None


def _declared_bounds(schema: GraphQLSchema) -> dict[tuple[str, str], int]:
    """The bounds list fields declare beside their types (schema/batching.py's `longest`)."""
    bounds = {}
    for type_name, named in schema.type_map.items():
        # Introspection's types are graphql-core's own, with no Strawberry field behind them.
        if isinstance(named, GraphQLObjectType) and not type_name.startswith("__"):
            for name, field in named.fields.items():
                longest = strawberry_field(field).metadata.get(LONGEST)
                if longest is not None:
                    bounds[(type_name, name)] = longest
    return bounds


def _is_list(field_type: GraphQLType) -> bool:
    if isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    return isinstance(field_type, GraphQLList)


def _introspection_bounds(schema: GraphQLSchema) -> dict[tuple[str, str], int]:
    """The longest list each introspection field can return for this schema."""
    named = list(schema.type_map.values())
    composite = [t for t in named if isinstance(t, GraphQLObjectType | GraphQLInterfaceType)]
    fields = [f for t in composite for f in t.fields.values()]
    inputs = [t for t in named if isinstance(t, GraphQLInputObjectType)]
    enums = [len(getattr(t, "values", {}) or {}) for t in named]
    arg_counts = [len(f.args) for f in fields] + [len(d.args) for d in schema.directives]
    abstract = [t for t in named if isinstance(t, GraphQLInterfaceType)]
    implementers = [len(schema.get_possible_types(t)) for t in abstract] + [1]
    interfaces = [len(t.interfaces) for t in composite] + [1]
    return {
        ("__Schema", "types"): len(named),
        ("__Schema", "directives"): len(schema.directives),
        ("__Type", "fields"): max(len(t.fields) for t in composite),
        ("__Type", "inputFields"): max([len(t.fields) for t in inputs] + [1]),
        ("__Type", "enumValues"): max([*enums, 1]),
        ("__Type", "interfaces"): max(interfaces),
        ("__Type", "possibleTypes"): max(implementers),
        ("__Field", "args"): max([*arg_counts, 1]),
        ("__Directive", "args"): max([*arg_counts, 1]),
    }
