"""Reading joined relations back in tests, by the column names the joins give them."""

from __future__ import annotations

from typing import Any

from db.rows import DbRow, Row


def joined_columns(row: DbRow, prefix: str) -> dict[str, Any]:
    """The columns of a read's `row` named `<prefix><column>`, by `<column>`: a relation
    joined under `prefix`, to compare with a row of the relation's own read."""
    assert isinstance(row, Row)
    return {key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)}
