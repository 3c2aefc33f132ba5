"""Root lookups of one object by its global ID (`post(id:)`), each declared once: the
resolver Strawberry calls derives from the declaration, and so does the lean
executor's way of answering the object straight off its row, with no object made
(schema/executor/run.py, `Run._off_row`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from db.relations import NO_RELATIONS, Relations
from db.rows import DbRow
from schema.context import Context, Info
from schema.ids import decode_id_of
from schema.loaders import takes
from schema.lookahead import alone
from schema.relationships import joins_below, node_maker

# The field metadata key of a lookup's declaration (`ById`).
LOOKUP = "storefront.lookup"

N = TypeVar("N")


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
        """The row of `pk`, read with `relations` (`relations(info)`) as `resolve` reads
        it, for a lookup that is its level's only field (READS_ALONE)."""
        if takes(self.by_ids, "relations"):
            return context.loaders.load_alone(self.by_ids, pk, relations=relations)
        return context.loaders.load_alone(self.by_ids, pk)

    def make(self, row: DbRow, relations: Relations) -> Any:
        """The object of a row read with `relations`."""
        return node_maker(self.cls, relations)(row)

    async def resolve(self, info: Info, id: str) -> Any:
        """The field's value, as Strawberry resolves it."""
        pk = self.key(id)
        return None if pk is None else await by_pk(info, self.cls, self.by_ids, pk)


async def by_pk(
    info: Info,
    cls: type[N],
    by_ids: Callable[..., Awaitable[Sequence[Any]]],
    pk: int,
) -> N | None:
    """One object by primary key, through its batch read (with the relations the
    document reads joined, where `by_ids` can join them); read without a loader when
    its field is `alone` (a lookup declared READS_ALONE, its level's only field)."""
    loaders = info.context.loaders
    relations = joins_below(info, cls) if takes(by_ids, "relations") else NO_RELATIONS
    # The loader's key is the read and these: the same as any other field's that reads them.
    kwargs = {"relations": relations} if takes(by_ids, "relations") else {}
    if alone(info):
        row = await loaders.load_alone(by_ids, pk, **kwargs)
    else:
        row = await loaders.of(by_ids, **kwargs).load(pk)
    made: N | None = None if row is None else node_maker(cls, relations)(row)
    return made
