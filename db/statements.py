"""Read statements compiled once per shape: SQLAlchemy Core writes them, asyncpg runs them.

Reads are the request path's inner loop. Through SQLAlchemy's asyncio layer a
statement costs, besides its round trip, a cache-key walk over the freshly
built statement, greenlet switches around each driver call and a CursorResult;
measured on the bench queries that was most of a nested query's CPU
(bench/README.md, "What paid"). So a read is declared as a builder whose
arguments are its *shape*, the things that change its SQL text (ordering,
direction, which filters are set, who is reading), never a value: the builder
runs once per shape, SQLAlchemy's asyncpg dialect compiles the result to `$n`
SQL, and every later call only binds values by name and runs it on a raw
asyncpg connection (which prepares each SQL text once per connection).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ParamSpec, cast

import asyncpg
from sqlalchemy import ARRAY
from sqlalchemy.dialects.postgresql.asyncpg import dialect as AsyncpgDialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

from db import telemetry
from db.rows import Row
from db.statement_counter import record

P = ParamSpec("P")

DIALECT = AsyncpgDialect()  # type: ignore[no-untyped-call]
_MISSING = object()
# Compiled statements kept per builder: far more than the shapes the API's documents
# use, few enough that a client cycling through page sizes cannot grow memory.
SHAPES_KEPT = 1024


@dataclass(frozen=True, slots=True)
class Statement:
    """A compiled read: its SQL, and how to turn values by name into `$n` arguments."""

    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]
    processors: Mapping[str, Callable[[Any], Any]]
    # How logs, spans and metrics name it: the builder (`posts.pages_by_author`).
    shape: str = "sql"

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        arguments = []
        for name in self.names:
            value = values.get(name, _MISSING)
            if value is _MISSING:
                value = self.defaults.get(name, _MISSING)
                if value is _MISSING:
                    raise TypeError(f"no value for :{name} in {self.sql!r}")
            processor = self.processors.get(name)
            arguments.append(value if processor is None or value is None else processor(value))
        return arguments


def compile_statement(stmt: ClauseElement, shape: str = "sql") -> Statement:
    compiled = cast(SQLCompiler, stmt.compile(dialect=DIALECT))
    names = tuple(compiled.positiontup or ())
    # Constants the builder wrote into the statement (an enum member, a LIKE escape)
    # are bound with their values; every other parameter must come with the call.
    defaults = {
        name: value
        for name, value in (compiled.construct_params(_check=False) or {}).items()
        if value is not None
    }
    # What SQLAlchemy would do to each value before handing it to asyncpg (an enum
    # member to its label, say), asked of each bound parameter's type through the
    # public TypeEngine API, as SQLAlchemy asks it when it executes a statement.
    processors = {}
    for name in names:
        kind = compiled.binds[name].type
        if isinstance(kind, ARRAY) and _bound_as_is(kind.item_type):
            # Its processor only copies the keys into a new list; asyncpg takes any
            # sequence (a batch's keys: every loader's statement).
            continue
        processor = kind.dialect_impl(DIALECT).bind_processor(DIALECT)
        if processor is not None:
            processors[name] = processor
    return Statement(compiled.string, names, defaults, processors, shape)


def _bound_as_is(kind: TypeEngine[Any]) -> bool:
    return kind.dialect_impl(DIALECT).bind_processor(DIALECT) is None


def shape_name(build: Callable[..., Any], args: tuple[Any, ...]) -> str:
    """`posts.pages_by_author`; a generic builder names what it wraps,
    `paging.paged(posts.visible)`. Few and fixed: a metric label may carry it."""
    name = f"{build.__module__.rsplit('.', 1)[-1]}.{build.__name__.lstrip('_')}"
    if args and callable(args[0]) and hasattr(args[0], "__name__"):
        name += f"({shape_name(args[0], ())})"
    return name


def shaped(build: Callable[P, ClauseElement]) -> Callable[P, Statement]:
    """Decorate a statement builder: built and compiled once for each set of arguments.

    The arguments must be hashable and few in kind (booleans, enums, orderings, a
    page size): the most recent sets are cached. Values go in as named
    `bindparam`s and are passed to `fetch`.
    """

    @functools.lru_cache(maxsize=SHAPES_KEPT)
    def statement(*args: Any, **kwargs: Any) -> Statement:
        return compile_statement(build(*args, **kwargs), shape_name(build, args))

    return cast(Callable[P, Statement], functools.wraps(build)(statement))


async def fetch(conn: asyncpg.Connection, statement: Statement, **values: Any) -> list[Row]:
    """Every read statement of the request path runs here (both executors' batches)."""
    log = record(statement.sql)
    rows: list[Row]
    if telemetry.tracer is None and telemetry.metrics is None and (log is None or not log.timed):
        rows = await conn.fetch(statement.sql, *statement.arguments(values))
        return rows
    started = time.perf_counter()
    rows = await conn.fetch(statement.sql, *statement.arguments(values))
    seconds = time.perf_counter() - started
    telemetry.statement(statement.shape, seconds, len(rows))
    if log is not None and log.timed:
        log.time(statement.shape, seconds, len(rows))
    return rows


async def fetch_one(conn: asyncpg.Connection, statement: Statement, **values: Any) -> Row | None:
    rows = await fetch(conn, statement, **values)
    return rows[0] if rows else None


async def fetch_value(conn: asyncpg.Connection, statement: Statement, **values: Any) -> Any:
    """The first column of the only row."""
    rows = await fetch(conn, statement, **values)
    if len(rows) != 1:
        raise LookupError(f"expected one row, got {len(rows)}: {statement.sql!r}")
    return rows[0][0]
