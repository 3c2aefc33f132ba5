"""Count the SQL statements a block of code runs, across every task it starts.

One listener per engine, and `record` for reads run on asyncpg directly; a count
is open while `counting()` is active in the current context (asyncio tasks
inherit it), so concurrent requests never mix.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass
class StatementLog:
    statements: list[str] = field(default_factory=list)
    # The count open around this one, which sees the statements too.
    outer: StatementLog | None = None

    @property
    def count(self) -> int:
        return len(self.statements)


_current: ContextVar[StatementLog | None] = ContextVar("statement_log", default=None)


def install_counter(engine: AsyncEngine) -> None:
    """Attach the listener; costs one context-variable read per statement when no count is open."""
    sync_engine = engine.sync_engine
    if event.contains(sync_engine, "before_cursor_execute", _before_execute):
        return
    event.listen(sync_engine, "before_cursor_execute", _before_execute)


def _before_execute(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    record(statement)


def record(statement: str) -> None:
    """Count a statement run outside SQLAlchemy's execution (db/statements.py)."""
    log = _current.get()
    while log is not None:
        log.statements.append(statement)
        log = log.outer


@contextlib.contextmanager
def counting() -> Iterator[StatementLog]:
    log = StatementLog(outer=_current.get())
    token = _current.set(log)
    try:
        yield log
    finally:
        _current.reset(token)
