"""Field collection: which fields each object of a group answers, as the GraphQL
specification's CollectFields finds them (selections merged by response key,
fragments spread where their type condition applies, @skip/@include obeyed)."""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    InlineFragmentNode,
    SelectionSetNode,
)
from graphql.execution import VariableValues, get_directive_values
from graphql.type import GraphQLIncludeDirective, GraphQLSkipDirective

from schema.executor.plan import Prepared

Collected = dict[str, list[FieldNode]]


class Collector:
    """Collects fields for one run: from the document's shared cache when no
    @skip/@include makes the answer depend on this run's variables."""

    __slots__ = ("_collected", "fragments", "variables")

    def __init__(self, prepared: Prepared, variables: VariableValues) -> None:
        self._collected = {} if prepared.conditional else prepared.collected
        self.fragments = prepared.fragments
        self.variables = variables

    def collect(
        self, object_type: GraphQLObjectType, selections: tuple[SelectionSetNode, ...]
    ) -> Collected:
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
        collected: Collected,
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
                if condition is None or _applies(condition.name.value, object_type):
                    self._collect_into(object_type, selection.selection_set, collected, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if name in visited or fragment is None:
                    continue
                visited.add(name)
                if _applies(fragment.type_condition.name.value, object_type):
                    self._collect_into(object_type, fragment.selection_set, collected, visited)

    def _included(self, node: Any) -> bool:
        if not node.directives:
            return True
        variables = self.variables
        skip = get_directive_values(GraphQLSkipDirective, node, variables)
        if skip is not None and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, variables)
        return not (include is not None and include.get("if") is False)


def _applies(condition: str, object_type: GraphQLObjectType) -> bool:
    if condition == object_type.name:
        return True
    return any(interface.name == condition for interface in object_type.interfaces)
