"""Top-level errors: the codes API.md names, and masking of everything unexpected."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from db import failures

log = logging.getLogger("storefront.errors")

INTERNAL_MESSAGE = "Internal server error"


class ApiError(Exception):
    """An error the client caused or may see: its message is safe to show."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.extensions = extensions


class BadUserInput(ApiError):
    code = "BAD_USER_INPUT"


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"


class Forbidden(ApiError):
    code = "FORBIDDEN"


class QueryTooComplex(ApiError):
    code = "QUERY_TOO_COMPLEX"


class RequestTimeout(ApiError):
    code = "TIMEOUT"


class RateLimited(ApiError):
    """Too many attempts: `retryAfter` (whole seconds) says when to try again."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retryAfter=retry_after)


def coded_error(message: str, code: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})


def coded(error: GraphQLError, code: str) -> GraphQLError:
    """`error` with `code` unless it carries one already."""
    _tag([error], code)
    return error


class ErrorCodes(SchemaExtension):
    """Give every error an `extensions.code`; mask and log the ones nobody expected.

    Parse, validation and limit errors come coded from schema/documents.py."""

    def on_operation(self) -> Iterator[None]:
        yield
        self._classify(self.execution_context.result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        # A subscription's messages are sent before on_operation ends.
        self._classify(result)
        yield

    def _classify(self, result: Any) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            request_id = getattr(self.execution_context.context, "request_id", None)
            result.errors = [classify(error, request_id) for error in errors]


def _tag(errors: list[GraphQLError] | None, code: str) -> None:
    for error in errors or ():
        if error.extensions is None or "code" not in error.extensions:
            error.extensions = {**(error.extensions or {}), "code": code}


def classify(error: GraphQLError, request_id: str | None) -> GraphQLError:
    """An error as clients see it: coded, and masked (and logged) when nobody expected it."""
    if error.extensions and "code" in error.extensions:
        return error
    original = error.original_error
    if isinstance(original, ApiError):
        return GraphQLError(
            str(original),
            nodes=error.nodes,
            path=error.path,
            extensions={"code": original.code, **original.extensions},
        )
    if original is None or isinstance(original, GraphQLError):
        # graphql-core's own complaints during execution: variables that do not coerce
        # (their original error is the scalar's or enum's own GraphQLError).
        return GraphQLError(
            error.message,
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "BAD_USER_INPUT"},
        )
    state = _sqlstate(original)
    if state is not None and state.startswith(DATA_EXCEPTION):
        return GraphQLError(
            _bad_value(original, state),
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "BAD_USER_INPUT"},
        )
    if isinstance(original, TimeoutError) or state == QUERY_CANCELED:
        return GraphQLError(
            "The request took too long and was cut off",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "TIMEOUT", "requestId": request_id},
        )
    log_unexpected(original, ".".join(map(str, error.path or [])) or "operation", request_id)
    return GraphQLError(
        INTERNAL_MESSAGE,
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


QUERY_CANCELED = "57014"  # statement_timeout cut the statement off
# Class 22: a value the database (or the driver, encoding an argument) cannot take.
DATA_EXCEPTION = "22"
INVALID_TEXT = "22021"  # a NUL character, which PostgreSQL text cannot hold


def _bad_value(error: BaseException, state: str) -> str:
    """What was wrong with a value, without the value (it may be personal data)."""
    if state == INVALID_TEXT:
        return "Text arguments may not contain NUL characters"
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, UnicodeEncodeError):
            return "Text arguments must be valid Unicode (no lone surrogates)"
        seen = seen.__cause__ or seen.__context__
    if "surrogates not allowed" in str(error):
        return "Text arguments must be valid Unicode (no lone surrogates)"
    return "An argument's value is out of range or cannot be stored"


def _sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a database error, through SQLAlchemy's and asyncpg's wrappers."""
    seen: BaseException | None = error
    for _ in range(4):
        if seen is None:
            return None
        state = getattr(seen, "sqlstate", None)
        if isinstance(state, str):
            return state
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None


class Throttle:
    """Admits one event per kind per `interval` seconds and counts the rest."""

    def __init__(
        self, interval: float = 30.0, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._next: dict[str, float] = {}
        self._held_back: dict[str, int] = {}
        self._lock = threading.Lock()  # logging filters run on any thread

    def admit(self, kind: str) -> int | None:
        """None when `kind` was admitted less than `interval` ago; otherwise how many of
        it were held back since it last was."""
        now = self._clock()
        with self._lock:
            if now < self._next.get(kind, now):
                self._held_back[kind] = self._held_back.get(kind, 0) + 1
                return None
            self._next[kind] = now + self.interval
            return self._held_back.pop(kind, 0)


# While the database is down every request fails the same way: one line per kind of
# failure per interval, not a traceback per request (8 s of an outage once made 14 MB).
unreachable = Throttle(30.0)


def log_unexpected(error: BaseException, where: str, request_id: str | None) -> None:
    """Log an error nobody expected, safely: a lost database throttled to a line per
    kind, any other database error by its kind and frames (its text holds values)."""
    kind = failures.connection_failure(error)
    if kind is not None:
        held_back = unreachable.admit(kind)
        if held_back is not None:
            log.error(
                "database unreachable (%s) at %s (request %s)%s",
                kind,
                where,
                request_id,
                _held_back_note(held_back),
            )
        return
    if failures.is_database_error(error):
        log.error(
            "database error at %s (request %s): %s\n%s",
            where,
            request_id,
            failures.describe(error),
            failures.frames(error),
        )
        return
    log.error("unexpected error at %s (request %s)", where, request_id, exc_info=error)


def _held_back_note(count: int) -> str:
    return f"; {count} more like it since the last such line, not logged" if count else ""


class DatabaseLogFilter(logging.Filter):
    """For any logger (uvicorn's "Exception in ASGI application", SQLAlchemy's pool,
    asyncio's): a record carrying a database error keeps its message, loses the
    error's text, and, when the database is unreachable, is throttled like ours."""

    def __init__(self, throttle: Throttle = unreachable) -> None:
        super().__init__()
        self.throttle = throttle

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is None:
            return True
        kind = failures.connection_failure(error)
        if kind is not None:
            held_back = self.throttle.admit(kind)
            if held_back is None:
                return False
            note = _held_back_note(held_back)
        elif failures.is_database_error(error):
            note = "\n" + failures.frames(error)
        else:
            return True
        record.msg = f"{record.getMessage().rstrip()}: {failures.describe(error)}{note}"
        record.args = None
        record.exc_info = None
        record.exc_text = None
        return True


def filter_database_errors(logger: logging.Logger) -> None:
    """Whatever logs through `logger`'s handlers, a database error in it shows no values
    and a lost database a line per interval (this module logs its own that way)."""
    for handler in logger.handlers:
        if not any(isinstance(f, DatabaseLogFilter) for f in handler.filters):
            handler.addFilter(DatabaseLogFilter())
