"""Rows as reads return them, and reading them: by column, and per key of a batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter, itemgetter
from typing import Any, TypeAlias

import asyncpg
from sqlalchemy import Row as SqlAlchemyRow

_item = asyncpg.Record.__getitem__


class Row(asyncpg.Record):  # type: ignore[misc]
    """A result row: `row.title`, `row["title"]` or `row[2]`.

    Values are the driver's: an enum column arrives as its text. Columns come
    first in attribute lookup (a `__getattr__` fallback costs three times as
    much per access, and rows are read field by field for every object served);
    Record's own methods (`keys`, `get`, ...) are found when no column has the name.
    """

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        try:
            return _item(self, name)
        except KeyError:
            return object.__getattribute__(self, name)


def columns(*names: str, prefix: str = "") -> Callable[[Any], tuple[Any, ...]]:
    """Reads `names` (each under `prefix`, as a joined relation's columns are named)
    from a row in one call, as a tuple in `names`' order.

    Every object served is made from a row, so this is a hot loop: a `Row` is read
    by key in C (`Row`'s attribute lookup runs Python per field), a write's
    SQLAlchemy row by attribute.
    """
    if len(names) < 2:
        raise ValueError("columns() reads two or more columns; column() reads one")
    keys = tuple(prefix + name for name in names)
    by_key, by_attribute = itemgetter(*keys), attrgetter(*keys)

    def read(row: Any) -> tuple[Any, ...]:
        values: tuple[Any, ...] = by_key(row) if type(row) is Row else by_attribute(row)
        return values

    return read


def column(name: str) -> Callable[[Any], Any]:
    """Reads one column from a read's row (by key, in C) or a write's (by attribute)."""
    by_key, by_attribute = itemgetter(name), attrgetter(name)

    def read(row: Any) -> Any:
        return by_key(row) if type(row) is Row else by_attribute(row)

    return read


# A read's row or a write's RETURNING row; both read by attribute or, several
# columns at once, with `columns`.
DbRow: TypeAlias = Row | SqlAlchemyRow[*tuple[Any, ...]]

# A row's primary key, from a read's row or a write's.
row_id = attrgetter("id")


# A batch read answers its keys in their order (the DataLoader contract), with None,
# an empty list or 0 for a key no row matched.


def one_per_key(keys: Sequence[int], rows: Sequence[Row], column: str = "id") -> list[Row | None]:
    by_key = {row[column]: row for row in rows}
    return [by_key.get(key) for key in keys]


def all_per_key(keys: Sequence[int], rows: Sequence[Row], column: str) -> list[list[Row]]:
    grouped: dict[int, list[Row]] = {}
    for row in rows:
        grouped.setdefault(row[column], []).append(row)
    return [grouped.get(key, []) for key in keys]


def count_per_key(keys: Sequence[int], rows: Sequence[Row]) -> list[int]:
    """From rows of (key, count)."""
    counts = {row[0]: int(row[1]) for row in rows}
    return [counts.get(key, 0) for key in keys]
