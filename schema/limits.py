"""Query limits: depth, aliases, root fields and an estimated cost, checked before anything runs.

Every way a document arrives (POST, GET, a persisted query, a subscription, the
lean executor) goes through schema/documents.py, which applies these checks.

The walk expands fragments (each spread counts every time it is spread, so
fragments cannot hide aliases or depth) and ignores @skip/@include (a field
counts whether or not it will run). Each fragment is measured once per walk, so
a document that spreads fragments into fragments cannot make the walk itself
expensive. The cost is schema/cost.py's.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)

MEASURE_CAP = 2**53 - 1
# A type reference's wrapper in introspection: neither deepens nor costs.
WRAPPERS = frozenset({"ofType"})


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits a document must stay within (README, "Security")."""

    depth: int = 10
    aliases: int = 30
    tokens: int = 2_000
    root_fields: int = 20
    # Fields selected on one object, fragments merged in: validation compares them
    # pairwise, so hundreds of them cost seconds of CPU before anything runs.
    selection_fields: int = 100
    cost: int = 50_000
    # Sign-ups and sign-ins in one document: each hashes or checks a password with
    # argon2id (tens of milliseconds of CPU, and 64 MiB), and aliases would let one
    # request ask for as many as the root fields allow, seconds of CPU a request.
    password_checks: int = 1


def too_complex(limit: str, measured: int, maximum: int, what: str) -> GraphQLError:
    # Fragments spread into fragments can multiply a count past what JSON encoders
    # take (2**100 aliases): report such a count as a bound.
    measured = min(measured, MEASURE_CAP)
    return GraphQLError(
        f"The document's {what} is {measured}, over the limit of {maximum}",
        extensions={
            "code": "QUERY_TOO_COMPLEX",
            "limit": limit,
            "measured": measured,
            "maximum": maximum,
        },
    )


@dataclass(frozen=True, slots=True)
class Shape:
    """What a document's operation measures without its variables."""

    depth: int
    aliases: int
    root_fields: int
    widest: int
    password_checks: int = 0


# The root fields that hash or check a password.
PASSWORD_FIELDS = frozenset({"signUp", "logIn"})


def shape_error(shape: Shape, limits: Limits) -> GraphQLError | None:
    for limit, measured, maximum, what in (
        ("depth", shape.depth, limits.depth, "depth"),
        ("aliases", shape.aliases, limits.aliases, "number of aliases"),
        ("rootFields", shape.root_fields, limits.root_fields, "number of root fields"),
        (
            "passwordChecks",
            shape.password_checks,
            limits.password_checks,
            "number of sign-ups and sign-ins",
        ),
        (
            "selectionFields",
            shape.widest,
            limits.selection_fields,
            "largest number of fields selected on one object",
        ),
    ):
        if measured > maximum:
            return too_complex(limit, measured, maximum, what)
    return None


def measure_shape(operation: OperationDefinitionNode, document: DocumentNode) -> Shape:
    """Depth, aliases, root fields and widest selection of `operation`, fragments
    expanded."""
    fragments = fragments_of(document)
    walk = _ShapeWalk(fragments)
    depth, aliases, root_fields = walk.selections(operation.selection_set)
    checks = (
        _roots_named(operation.selection_set, PASSWORD_FIELDS, fragments, set())
        if operation.operation == OperationType.MUTATION
        else 0
    )
    return Shape(
        depth=depth,
        aliases=aliases,
        root_fields=root_fields,
        widest=walk.widest,
        password_checks=checks,
    )


def _roots_named(
    selection_set: SelectionSetNode,
    names: frozenset[str],
    fragments: dict[str, FragmentDefinitionNode],
    visited: set[str],
) -> int:
    """How many root fields of `selection_set` (fragments followed) are named in
    `names`, aliased or not."""
    found = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            found += selection.name.value in names
        elif isinstance(selection, InlineFragmentNode):
            found += _roots_named(selection.selection_set, names, fragments, visited)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in visited:
                visited.add(name)  # a cycle, or a second spread: validation's to refuse
                found += _roots_named(fragment.selection_set, names, fragments, visited)
    return found


def fragments_of(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }


class _ShapeWalk:
    """Depth, aliases and width (fields in one selection, fragments merged in) of a
    document, each fragment measured once."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.measured: dict[str, tuple[int, int, int]] = {}
        self.visiting: set[str] = set()
        self.widest = 0

    def selections(self, selection_set: SelectionSetNode | None) -> tuple[int, int, int]:
        """(depth, aliases, width) of a selection set."""
        depth = aliases = width = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                below, inner, children = self.selections(selection.selection_set)
                self.widest = max(self.widest, children)
                own = 0 if selection.name.value in WRAPPERS else 1
                depth = max(depth, own + below)
                aliases += inner + (selection.alias is not None)
                width += 1
            else:
                if isinstance(selection, InlineFragmentNode):
                    below, inner, merged = self.selections(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    below, inner, merged = self.fragment(selection.name.value)
                else:
                    continue
                depth, aliases, width = max(depth, below), aliases + inner, width + merged
        return depth, aliases, width

    def fragment(self, name: str) -> tuple[int, int, int]:
        if name in self.measured:
            return self.measured[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.visiting:
            return 0, 0, 0  # unknown or cyclic: validation refuses the document
        self.visiting.add(name)
        self.measured[name] = self.selections(fragment.selection_set)
        self.visiting.discard(name)
        return self.measured[name]
