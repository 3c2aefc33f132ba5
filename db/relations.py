"""Relations that come in their parent rows' own statement, when a caller asks.

A document that shows posts with their author would otherwise run a statement
per relation after the posts' (each a round trip and, on this service's
request path, most of a small query's CPU). A `Join` adds one relation's
columns to a statement over its parent table, or over a page of it after the
LIMIT, so only rows that are returned pay for it. The relations a caller asks
for are a frozenset of them: part of a statement's shape (db/statements.py),
so each combination compiles once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from operator import attrgetter
from typing import Any, TypeAlias

from sqlalchemy import FromClause, Select, null, true

Extend: TypeAlias = Callable[[Select[Any], FromClause], Select[Any]]


# Compared by identity: each is a module constant, and it is looked up in a set for every
# object a relation rides along with.
@dataclass(frozen=True, slots=True, eq=False)
class Join:
    """One relation's columns added to `stmt`, whose FROM has the parent `rows`."""

    name: str
    add: Extend
    # The columns it sends as NULL, for a join made by `unread`; it adds none.
    unread: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        return f"Join({self.name!r})"


Relations: TypeAlias = frozenset[Join]
NO_RELATIONS: Relations = frozenset()


def join_all(stmt: Select[Any], rows: FromClause, relations: Relations) -> Select[Any]:
    """`stmt` with every relation's columns, in a fixed order so equal sets write equal SQL."""
    for join in sorted(relations, key=_NAME):
        stmt = join.add(stmt, rows)
    return stmt


def extend(relations: Relations) -> Extend | None:
    """What joins `relations` to a page (db/paging.py), if any."""
    return partial(_joined, relations=relations) if relations else None


def _joined(stmt: Select[Any], rows: FromClause, *, relations: Relations) -> Select[Any]:
    return join_all(stmt, rows, relations)


def join_lateral(stmt: Select[Any], rows: FromClause, lateral: FromClause) -> Select[Any]:
    """`stmt` with every column of `lateral` (an aggregate over one of `rows`' rows).

    An aggregate without GROUP BY always yields one row (NULLs when nothing matched),
    so a plain join keeps every row. The join names its left side: with another
    lateral's columns in the statement, SQLAlchemy would see two candidates.
    """
    return stmt.add_columns(*lateral.c).join_from(rows, lateral, true())


def unread(*names: str) -> Join:
    """The columns `names` sent as NULL: for a document that reads none of the fields
    they serve.

    asyncpg makes a `datetime` of every timestamp it receives, about 6,000 instructions
    each (bench/README.md, "eighth session"): more than the rest of a feed row's columns
    together. A column that only one field shows is left out when that field is not
    asked for; a column the rows are ordered by, also when no cursor is. Matched by name
    among the statement's own columns (a name it lacks is skipped), so the statement's
    shape and every other column stay as they are. The ORDER BY over the same rows
    stays right where it names the columns of a subquery that still has the values
    (`page_query`, `pages_by_parent`); a statement that orders by the output of one
    built with these joins applies them after it instead (`masks`, `unread_in`)."""
    hidden = frozenset(names)

    def send_null(stmt: Select[Any], rows: FromClause) -> Select[Any]:
        return stmt.with_only_columns(
            *(
                null().cast(c.type).label(c.key) if c.key in hidden else c
                for c in stmt.selected_columns
            )
        )

    return Join(f"unread.{'.'.join(names)}", send_null, hidden)


@functools.cache
def unread_under(join: Join, prefix: str) -> Join:
    """`join`'s columns sent as NULL where its table's row is joined to another's under
    `prefix` (one object per pair, like the module's constants: compared by identity)."""
    return unread(*(prefix + name for name in sorted(join.unread)))


def masks(relations: Relations) -> tuple[Relations, Relations]:
    """`relations` split into the joins that add columns and those made by `unread`."""
    joins = frozenset(join for join in relations if not join.unread)
    return joins, relations - joins


def unread_in(relations: Relations) -> frozenset[str]:
    """Every column that `relations` send as NULL."""
    return frozenset(column for join in relations for column in join.unread)


_NAME = attrgetter("name")
