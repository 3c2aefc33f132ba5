"""How the lean executor gets a field's values: the same resolvers Strawberry calls,
found once per field, and the `info` they are given."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import FieldNode, FragmentDefinitionNode, GraphQLField
from strawberry.types.field import StrawberryField

from schema.batching import batch_of
from schema.context import Context
from schema.executor.compat import resolver_function, strawberry_field
from schema.lookahead import READS_ALONE
from schema.lookups import LOOKUP, ById
from schema.relationships import reads_ahead


class FastInfo:
    """What our resolvers read from `info`: the request's context, and the field's
    nodes, the document's fragments and the run's variables (for schema/lookahead.py),
    with the document's `memo` of what lookahead read from them, and whether the
    field is `alone` on its level."""

    __slots__ = ("alone", "context", "field_nodes", "fragments", "memo", "variable_values")

    def __init__(
        self,
        context: Context,
        field_nodes: Sequence[FieldNode] = (),
        fragments: dict[str, FragmentDefinitionNode] | None = None,
        variable_values: dict[str, Any] | None = None,
        memo: dict[Any, Any] | None = None,
        alone: bool = False,
    ) -> None:
        self.context = context
        self.field_nodes = field_nodes
        self.fragments = fragments or {}
        self.variable_values = variable_values or {}
        self.memo = memo
        # A READS_ALONE lookup, the only field of its level (schema/lookahead.py, `alone`).
        self.alone = alone


@dataclass(frozen=True, slots=True)
class Resolver:
    """One field of one type, as the lean executor resolves it.

    `function` is None for a field read off its object (`attribute`). Otherwise
    `batched`, when set, answers a whole level's objects in one call; else
    `function` is called once per object. `wants_info` says whether the one called
    takes `info`; `reads_alone`, whether it reads without a loader when it is its
    level's only field (schema/lookahead.py, `READS_ALONE`); `reads_ahead`, whether
    it reads ahead for its objects' fields (schema/relationships.py, `reads_ahead`).
    """

    field: StrawberryField
    attribute: str
    function: Callable[..., Any] | None
    batched: Callable[..., Any] | None
    wants_info: bool
    reads_alone: bool
    reads_ahead: bool
    # A root lookup's declaration (schema/lookups.py), by which it may be answered off
    # its row.
    lookup: ById | None = None


def resolver_for(definition: GraphQLField) -> Resolver:
    field = strawberry_field(definition)
    function = resolver_function(field)
    batched = batch_of(field) if function else None
    called = batched or function
    return Resolver(
        field=field,
        attribute=field.python_name,
        function=function,
        batched=batched,
        wants_info=called is not None and "info" in inspect.signature(called).parameters,
        reads_alone=bool(field.metadata.get(READS_ALONE)),
        reads_ahead=reads_ahead(field),
        lookup=field.metadata.get(LOOKUP),
    )
