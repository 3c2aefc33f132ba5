"""Database failures as a log may tell them: their kind and where, never their values.

A database error's text is not safe to log. asyncpg's message for a violated unique
index carries the row's key (`DETAIL: Key (email)=(ada@example.com) already exists`),
its client-side errors quote the argument they could not encode, and SQLAlchemy's
wrapper adds the statement's parameters unless told not to (db/engine.py does). So a
database error is described by its classes, SQLSTATE and the names of what it concerns.
"""

from __future__ import annotations

import traceback
from collections import deque
from collections.abc import Iterator

import asyncpg
from sqlalchemy import exc as sa_exc

# The fields of a server error that name things (never values); asyncpg's attributes.
NAMES = ("constraint_name", "table_name", "column_name", "data_type_name")


def chain(error: BaseException) -> Iterator[BaseException]:
    """`error` and every exception a traceback of it would show, each once, outermost
    first (SQLAlchemy's error, its DBAPI adapter's, then asyncpg's own)."""
    seen: set[int] = set()
    pending = deque([error])
    while pending and len(seen) < 16:
        current = pending.popleft()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "orig", None)]
        pending.extend(e for e in linked if isinstance(e, BaseException))


def _is_database(error: BaseException) -> bool:
    return isinstance(
        error, asyncpg.PostgresError | asyncpg.InterfaceError | sa_exc.StatementError
    ) or isinstance(getattr(error, "sqlstate", None), str)


def is_database_error(error: BaseException) -> bool:
    """Whether a traceback of `error` would show a database error's text."""
    return any(_is_database(e) for e in chain(error))


def connection_failure(error: BaseException) -> str | None:
    """The kind of failure (a class name) when `error` says the database could not be
    reached or the connection was lost; None for any other error."""
    kind = None
    for current in chain(error):
        if _unreachable(current):
            kind = type(current).__name__  # the innermost says it best
    return kind


def _unreachable(error: BaseException) -> bool:
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(
        error,
        # Refused, reset, unknown host, a socket timeout.
        OSError
        # Class 08, and the server saying it is starting, stopping or full.
        | asyncpg.PostgresConnectionError
        | asyncpg.CannotConnectNowError
        | asyncpg.AdminShutdownError
        | asyncpg.CrashShutdownError
        | asyncpg.TooManyConnectionsError
        # A statement that met the server's goodbye before asyncpg read it ("cannot
        # switch to state ..."): db/read_pool.py's DROPPED takes it for a lost connection.
        | asyncpg.InternalClientError
        # "connection is closed" (the read pool's PoolClosedError too); SQLAlchemy's
        # wrapper of asyncpg's.
        | sa_exc.InterfaceError,
    ) or (isinstance(error, asyncpg.InterfaceError) and not isinstance(error, ValueError))


def describe(error: BaseException) -> str:
    """One line: the classes in `error`'s chain and what its database error names,
    e.g. `IntegrityError <- UniqueViolationError (SQLSTATE 23505, constraint_name
    uq_users_email_lower, table_name users)`."""
    names: list[str] = []
    found: dict[str, str] = {}
    for current in chain(error):
        name = type(current).__name__
        if not names or names[-1] != name:
            names.append(name)
        for field in ("sqlstate", *NAMES):
            value = getattr(current, field, None)
            if isinstance(value, str) and value:
                found.setdefault(field, value)
    details = [f"{'SQLSTATE' if f == 'sqlstate' else f} {v}" for f, v in found.items()]
    return " <- ".join(names) + (f" ({', '.join(details)})" if details else "")


def frames(error: BaseException) -> str:
    """Where `error` was raised: its traceback's frames, without any exception's text."""
    return "".join(traceback.format_list(traceback.extract_tb(error.__traceback__))).rstrip()
