"""Lookups of one object by its global ID (`post(id:)`, `node(id:)`), each declared once:
the resolver Strawberry calls derives from the declaration, and so does the lean
executor's way of answering the object straight off its row, with no object made
(schema/executor/run.py, `Run._off_row`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from db.relations import NO_RELATIONS, Relations
from db.rows import DbRow
from schema.context import Context, Info
from schema.ids import decode_id_of
from schema.loaders import takes
from schema.lookahead import alone
from schema.relationships import joins_below, node_maker

# The field metadata key of a lookup's declaration (`ById`).
LOOKUP = "storefront.lookup"


@dataclass(frozen=True, slots=True)
class ById:
    """A root field whose one argument is `id: ID!`, answering the `cls` whose global
    ID it is, read with the batch read `by_ids` (with the relations the document reads
    joined, where it can join them); null for an ID of another type, malformed, or of
    a row hidden from the viewer (the read's own rules)."""

    cls: type
    by_ids: Callable[..., Awaitable[Sequence[Any]]]

    def key(self, id: str) -> int | None:
        """The primary key the field's arguments name, if any."""
        return decode_id_of(id, self.cls.__name__)

    def relations(self, info: Any) -> Relations:
        """The joins the read takes for the document's fields below the lookup (`info`:
        Strawberry's or the lean executor's, as for schema/lookahead.py)."""
        return joins_below(info, self.cls) if takes(self.by_ids, "relations") else NO_RELATIONS

    def row(self, context: Context, pk: int, relations: Relations) -> Awaitable[DbRow | None]:
        """The row of `pk`, read with `relations` (`relations(info)`) as `load` reads
        it, for a lookup that is its level's only field (READS_ALONE)."""
        if takes(self.by_ids, "relations"):
            return context.loaders.load_alone(self.by_ids, pk, relations=relations)
        return context.loaders.load_alone(self.by_ids, pk)

    def make(self, row: DbRow, relations: Relations) -> Any:
        """The object of a row read with `relations`."""
        return node_maker(self.cls, relations)(row)

    async def load(self, info: Info, pk: int) -> Any:
        """The object of primary key `pk`, through the batch read (with the relations
        the document reads joined); read without a loader when its field is `alone` (a
        lookup declared READS_ALONE, its level's only field)."""
        relations = self.relations(info)
        if alone(info):
            row = await self.row(info.context, pk, relations)
        else:
            # The loader's key is the read and its joins: the same as any other field's
            # that reads them.
            joined = {"relations": relations} if takes(self.by_ids, "relations") else {}
            row = await info.context.loaders.of(self.by_ids, **joined).load(pk)
        return None if row is None else self.make(row, relations)

    async def resolve(self, info: Info, id: str) -> Any:
        """The field's value, as Strawberry resolves it."""
        pk = self.key(id)
        return None if pk is None else await self.load(info, pk)
