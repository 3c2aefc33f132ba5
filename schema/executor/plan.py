"""What the lean executor keeps of a document between runs: its operation, its
fragments, and whatever of field collection and arguments does not depend on the
variables. Decided once per document and operation name, and cached with the
checked document (schema/documents.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    get_operation_ast,
)

from schema.documents import Checked
from schema.executor.variables import Coercion, plain_coercion

log = logging.getLogger("storefront.fast")

# A query the lean executor declines (Strawberry runs it), told apart from a document
# that is not a query at all: only the first is counted (FastPath.handed_over).
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
    # The variables @skip/@include read: their values choose the fields.
    condition_variables: tuple[str, ...] = ()
    collected: dict[tuple[str, tuple[int, ...]], dict[str, list[FieldNode]]] = field(
        default_factory=dict
    )
    arguments: dict[int, dict[str, Any]] = field(default_factory=dict)
    # How each field node that uses variables takes its arguments from them
    # (schema/executor/arguments.py), by id of the node; None: graphql-core's way.
    argument_plans: dict[int, Any] = field(default_factory=dict)
    # Inline plans (schema/executor/inline.py) by type and selections (and, when
    # @skip/@include choose, the fields chosen); None where there is none.
    inline: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    # The variables' coercion when they are all plain built-in scalars
    # (schema/executor/variables.py).
    plain_variables: Coercion | None = None
    # What schema/lookahead.py read from the document's fields, which is the same
    # for every run (it evaluates no @skip/@include), by field nodes and path.
    lookahead: dict[Any, Any] = field(default_factory=dict)
    # The operation's one root field, when it selects exactly one, plainly (no fragment,
    # no directive, not `__typename`): a lookup there may skip the level's machinery
    # (Run.root).
    lone: FieldNode | None = None
    # What a run decided of the document that its later runs reuse (schema/executor/
    # lone.py).
    decided: dict[str, Any] = field(default_factory=dict)


def prepare(checked: Checked, operation_name: str | None) -> Prepared | object | None:
    """The document's plan; HANDED_OVER for a query this executor does not answer;
    None for anything that is not a query."""
    if operation_name not in checked.lean:
        checked.lean[operation_name] = _build(checked, operation_name)
    prepared: Prepared | object | None = checked.lean[operation_name]
    return prepared


def _build(checked: Checked, operation_name: str | None) -> Prepared | object | None:
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
    return Prepared(
        operation=operation,
        fragments=fragments,
        conditional=bool(directives),
        condition_variables=_condition_variables(document),
        plain_variables=plain_coercion(operation.variable_definitions or ()),
        lone=_lone(operation),
    )


def _lone(operation: OperationDefinitionNode) -> FieldNode | None:
    selections = operation.selection_set.selections
    if len(selections) != 1:
        return None
    [selection] = selections
    if (
        not isinstance(selection, FieldNode)
        or selection.directives
        or selection.name.value.startswith("__")
    ):
        return None
    return selection


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


def _condition_variables(document: DocumentNode) -> tuple[str, ...]:
    """The names of the variables that @skip/@include arguments read, sorted."""
    found: set[str] = set()
    stack: list[Any] = list(document.definitions)
    while stack:
        node = stack.pop()
        for directive in getattr(node, "directives", None) or ():
            if directive.name.value in ("skip", "include"):
                for argument in directive.arguments or ():
                    if isinstance(argument.value, VariableNode):
                        found.add(argument.value.name.value)
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return tuple(sorted(found))


def uses_variables(node: Any) -> bool:
    """Whether an argument value (or any value nested in it) is a $variable."""
    if isinstance(node, VariableNode):
        return True
    if isinstance(node, ListValueNode):
        return any(uses_variables(value) for value in node.values)
    if isinstance(node, ObjectValueNode):
        return any(uses_variables(f.value) for f in node.fields)
    return False
