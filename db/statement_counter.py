"""Count the SQL statements a block of code runs, across every task it starts.

One listener per engine, and `record` for reads run on asyncpg directly; a count
is open while `counting()` is active in the current context (asyncio tasks
inherit it), so concurrent requests never mix. A timed count (STOREFRONT_DEBUG_SQL)
also keeps each statement's shape, time and rows.
"""

from __future__ import annotations

import re
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass(frozen=True, slots=True)
class Timing:
    shape: str
    ms: float
    rows: int


class StatementLog:
    __slots__ = ("outer", "statements", "timed", "timings")

    def __init__(self, outer: StatementLog | None = None, timed: bool = False) -> None:
        self.statements: list[str] = []
        # The count open around this one, which sees the statements too.
        self.outer = outer
        # Keep `timings` too; a count inside a timed one is timed as well.
        self.timed = timed
        self.timings: list[Timing] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def time(self, shape: str, seconds: float, rows: int) -> None:
        timing = Timing(shape, round(seconds * 1000, 3), rows)
        log: StatementLog | None = self
        while log is not None:
            if log.timed:
                log.timings.append(timing)
            log = log.outer


_current: ContextVar[StatementLog | None] = ContextVar("statement_log", default=None)


def install_counter(engine: AsyncEngine) -> None:
    """Attach the listeners; each costs one context-variable read per statement when no
    count is open."""
    sync_engine = engine.sync_engine
    if event.contains(sync_engine, "before_cursor_execute", _before_execute):
        return
    event.listen(sync_engine, "before_cursor_execute", _before_execute)
    event.listen(sync_engine, "after_cursor_execute", _after_execute)


def _before_execute(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    log = record(statement)
    if log is not None and log.timed:
        conn.info["storefront.started"] = time.perf_counter()


def _after_execute(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    log = _current.get()
    started = conn.info.pop("storefront.started", None)
    if log is not None and started is not None:
        log.time(write_shape(statement), time.perf_counter() - started, max(cursor.rowcount, 0))


# What a statement written through SQLAlchemy (the writes) does, and to which table.
VERB_AND_TABLE = re.compile(
    r"\s*(SELECT|INSERT INTO|UPDATE|DELETE FROM|WITH)\b(?:.*?\bFROM\b)?\s*\"?(\w+)",
    re.IGNORECASE | re.DOTALL,
)


def write_shape(statement: str) -> str:
    """`insert posts`, `update products`, `select pg_notify`: a write's shape."""
    match = VERB_AND_TABLE.match(statement)
    if match is None:
        return statement.split(None, 1)[0].lower() if statement.strip() else "sql"
    verb = match.group(1).split()[0].lower()
    return f"{verb} {match.group(2).lower()}"


def record(statement: str) -> StatementLog | None:
    """Count a statement run outside SQLAlchemy's execution (db/statements.py); the
    innermost open count, if any."""
    current = log = _current.get()
    while log is not None:
        log.statements.append(statement)
        log = log.outer
    return current


class counting:
    """Count the statements run inside the block (and in the tasks it starts).

    A class rather than a generator-based context manager: every request opens one,
    and contextlib's machinery costs several times these two methods."""

    __slots__ = ("log", "token")

    def __init__(self, *, timed: bool = False) -> None:
        outer = _current.get()
        self.log = StatementLog(outer=outer, timed=timed or (outer is not None and outer.timed))

    def __enter__(self) -> StatementLog:
        self.token = _current.set(self.log)
        return self.log

    def __exit__(self, *exc: object) -> None:
        _current.reset(self.token)
