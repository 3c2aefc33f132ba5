"""Case-insensitive substring search, with LIKE's wildcards taken literally."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, bindparam

SEARCH = bindparam("search", type_=String)


def contains(column: ColumnElement[str]) -> ColumnElement[bool]:
    """`column ILIKE :search`; `search_values` binds the escaped pattern."""
    return column.ilike(SEARCH, escape="\\")


def search_values(search: str | None) -> dict[str, Any]:
    if not search:
        return {}
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return {"search": f"%{escaped}%"}
