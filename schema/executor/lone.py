"""A document that is one root lookup by ID (`{ post(id: $id) { ... } }`) whose object's
fields all read off its row: what its runs share, decided on its first run.

Such a lookup is declared with `ById` (schema/lookups.py), and the rows it reads are
answered by an inline plan of rows, as a page's rows are. Its field, resolver, plan
and the joins it reads are the same on every run of the document, unless @skip or
@include choose the fields below it; then each run decides them afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import FieldNode, GraphQLField, GraphQLObjectType

from db.relations import Relations
from schema.executor.arguments import ArgumentPlan, argument_plan
from schema.executor.inline import Objects, Plan
from schema.executor.resolvers import FastInfo, Resolver
from schema.lookups import ById

if TYPE_CHECKING:
    from schema.executor.run import Run

# Prepared.decided's key for the document's OffRow (or None: it has none).
OFF_ROW = "off_row"
_UNDECIDED: Any = object()


@dataclass(frozen=True, slots=True)
class OffRow:
    """A lone lookup by ID answered off its row (Run._off_row)."""

    key: str  # the response key
    node: FieldNode
    definition: GraphQLField
    resolver: Resolver
    lookup: ById
    plan: Plan  # of rows, answering the object's whole selection
    found: Objects
    relations: Relations  # the joins the row is read with, which `plan` reads
    # The ID argument's value taken from the run's variables (schema/executor/
    # arguments.py), when it is one; else (None) as any field's arguments are.
    take: ArgumentPlan | None


def off_row(run: Run, query_type: GraphQLObjectType, node: FieldNode) -> OffRow | None:
    """The document's lone lookup `node` as answered off its row, if it can be."""
    prepared = run.prepared
    if not prepared.conditional:
        kept: OffRow | None = prepared.decided.get(OFF_ROW, _UNDECIDED)
        if kept is not _UNDECIDED:
            return kept
    try:
        found = _decide(run, query_type, node)
    except Exception:
        # Whatever failed (planning, lookahead) fails again in the lookup's own path,
        # where it is reported in place, as the field's error.
        return None
    if not prepared.conditional:
        prepared.decided[OFF_ROW] = found
    return found


def _decide(run: Run, query_type: GraphQLObjectType, node: FieldNode) -> OffRow | None:
    definition = query_type.fields[node.name.value]
    resolver = run.resolver(query_type, definition)
    lookup = resolver.lookup
    if (
        lookup is None
        or not resolver.reads_alone
        or resolver.batched is not None
        or node.selection_set is None
    ):
        return None
    found = run.path.objects(definition.type)
    if found is None or found[1]:
        return None
    plan = run.inline_plan(found[0], (node.selection_set,), rows="")
    if plan is None:
        return None
    prepared = run.prepared
    # What lookahead reads of the document does not depend on the run's variables.
    info = FastInfo(
        run.info.context, [node], prepared.fragments, run.variables, prepared.lookahead, True
    )
    relations = lookup.relations(info)
    if not plan.needs <= relations:
        return None
    key = (node.alias or node.name).value
    take = argument_plan(definition, node)
    return OffRow(key, node, definition, resolver, lookup, plan, found, relations, take)
