"""What one HTTP request did, told once it is answered: the access log line, and, when
switched on, its metrics (hooks) and its span (the parent of its reads' spans).

`Exchange` is the request's record: the middleware opens it, the view fills in what
only it knows (the operation, the document's hash, the viewer's kind, the SQL it ran,
the error codes), and the middleware, once the response has gone out, writes the access
line. It is also the context every log line of the request reads its request and trace
ids from (logs.py), so a masked error's line names the id the client was given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from random import random
from typing import Any, TypeVar

from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import (
    Span,
    SpanKind,
    Status,
    StatusCode,
    Tracer,
    format_span_id,
    format_trace_id,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db import telemetry
from db.accounts import Viewer
from schema.errors import INTERNAL_MESSAGE, log_unexpected
from schema.middleware import given_request_id, new_request_id
from schema.transport import error_body, header_map, json_response

access_log = logging.getLogger("storefront.access")
log = logging.getLogger("storefront.http")

# Set on the app's state once a stop signal came (serving.py): a request cancelled from
# then on was cut off at the end of the grace period.
STOPPING = "storefront_stopping"
SHUTDOWN_MESSAGE = "The server is shutting down and cut the request off"


def mark_stopping(state: Any) -> None:
    """The server got its stop signal (`state`: the app's `app.state`)."""
    setattr(state, STOPPING, True)


def _stopping(scope: Scope) -> bool:
    app = scope.get("app")
    return bool(getattr(getattr(app, "state", None), STOPPING, False))


# The messages that carry a response's headers, which get x-request-id.
STARTS = frozenset({"http.response.start", "websocket.accept"})
# W3C trace context: version-traceid-parentid-flags; an all-zero trace id is invalid.
TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})")


class Exchange:
    """One request as the operator sees it; never a variable's value or a header's."""

    # Class defaults, set on the instance only when known: one is made per request,
    # and a dataclass's __init__ would set every field every time.
    trace_id: str | None = None
    span_id: str | None = None
    status: int | None = None
    operation_name: str | None = None
    operation_type: str | None = None
    document_hash: str | None = None
    viewer: str | None = None
    sql_statements: int | None = None
    error_codes: tuple[str, ...] = ()
    # The limits a QUERY_TOO_COMPLEX refusal names (`depth`, `cost`, ...).
    limits: tuple[str, ...] = ()
    duration_s: float | None = None

    def __init__(self, request_id: str, method: str, path: str) -> None:
        self.request_id = request_id
        self.method = method
        self.path = path
        self.started = time.perf_counter()

    def fields(self) -> dict[str, Any]:
        """The access line's fields (those known), in a stable order."""
        found = {
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "duration_ms": None if self.duration_s is None else round(self.duration_s * 1000, 2),
            "operation_name": self.operation_name,
            "operation_type": self.operation_type,
            "document_hash": self.document_hash,
            "viewer": self.viewer,
            "sql_statements": self.sql_statements,
            "error_codes": list(self.error_codes) or None,
        }
        return {name: value for name, value in found.items() if value is not None}

    def answered(self, payload: dict[str, Any]) -> None:
        """Note the error codes of a GraphQL response body."""
        errors = payload.get("errors")
        if not errors:  # nearly every answer
            self.error_codes = self.limits = ()
            return
        codes: list[str] = []
        for error in errors:
            code = (error.get("extensions") or {}).get("code")
            if isinstance(code, str) and code not in codes:
                codes.append(code)
        self.error_codes = tuple(codes)
        self.limits = refused_limits(errors)


def refused_limits(errors: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """The limits QUERY_TOO_COMPLEX errors name (`depth`, `cost`, ...), in order."""
    limits: list[str] = []
    for error in errors:
        extensions = error.get("extensions") or {}
        limit = extensions.get("limit")
        if extensions.get("code") == "QUERY_TOO_COMPLEX" and isinstance(limit, str):
            limits.append(limit)
    return tuple(limits)


_current: ContextVar[Exchange | None] = ContextVar("exchange", default=None)


def viewer_kind(viewer: Viewer | None) -> str:
    """Who asked, as logs and traces may say it: never who exactly."""
    if viewer is None:
        return "anonymous"
    return "admin" if viewer.is_admin else "user"


def current_exchange() -> Exchange | None:
    """The request the running code serves, if any (log lines read it)."""
    return _current.get()


def exchange_of(scope: Scope) -> Exchange | None:
    found = (scope.get("state") or {}).get("exchange")
    return found if isinstance(found, Exchange) else None


def _callers_trace(value: str) -> tuple[str, bool] | None:
    """The trace id of a valid incoming `traceparent` (so that logs join the caller's
    trace even when this process does not trace), and whether the caller sampled it."""
    match = TRACEPARENT.fullmatch(value.strip().lower())
    if match is None or match.group(1) == "0" * 32:
        return None
    return match.group(1), bool(int(match.group(2), 16) & 1)


T = TypeVar("T")


def _first_valid(
    scope: Scope, headers: Mapping[str, str], name: bytes, read: Callable[[str], T | None]
) -> T | None:
    """What `read` makes of the first of the request's `name` headers that it accepts:
    the first (`headers`, header_map's) nearly always; the others only when it is not."""
    found = read(headers[name.decode()])
    if found is not None:
        return found
    for header, value in scope["headers"]:
        if header == name:
            found = read(value.decode("latin-1"))
            if found is not None:
                return found
    return None


Hook = Callable[[Exchange], None]
RawHeaders = list[tuple[bytes, bytes]]


class _AsgiHeaders(Getter[RawHeaders]):
    """The propagators' view of ASGI's raw headers: only the few they ask for are
    decoded (traceparent, tracestate, baggage), not every header of every request."""

    def get(self, carrier: RawHeaders, key: str) -> list[str] | None:
        wanted = key.lower().encode("latin-1")
        found = [bytes(value).decode("latin-1") for name, value in carrier if name == wanted]
        return found or None

    def keys(self, carrier: RawHeaders) -> list[str]:
        return [bytes(name).decode("latin-1") for name, _ in carrier]


ASGI_HEADERS = _AsgiHeaders()
# A request with no `traceparent` starts a trace of its own: its headers are not
# handed to the propagators at all.
NO_PARENT = Context()


class Observe:
    """The outermost middleware: names each request, opens its Exchange, and once its
    response is sent, tells it (the access line, the metrics hooks, its span).

    The request id is the caller's `X-Request-ID` (printable, trimmed) or a new one; it
    goes back on every response, errors and CORS preflights included. One layer does
    it all, so a request costs one scan of its headers and one wrapper around `send`.
    A WebSocket only gets its id (on the accept) and the log context: its
    subscriptions are told by their own metrics.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        access: bool = True,
        hooks: tuple[Hook, ...] = (),
        tracing: Callable[[], Tracer | None] = lambda: None,
        ratio: float | None = None,
    ) -> None:
        """`tracing`: the tracer while the app traces (it is made in the lifespan).
        `ratio`: the share of new traces recorded (requests without a valid
        `traceparent`); the rest make no span at all, since starting even an
        unrecorded span costs a small read about 6 % (`_parent`). None: the SDK's
        sampler decides for every request."""
        self.app = app
        self.access = access
        self.hooks = hooks
        self.tracing = tracing
        self.ratio = ratio

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = header_map(scope)
        request_id = None
        if "x-request-id" in headers:
            request_id = _first_valid(scope, headers, b"x-request-id", given_request_id)
        request_id = request_id or new_request_id()
        found = None
        if "traceparent" in headers:
            found = _first_valid(scope, headers, b"traceparent", _callers_trace)
        # sampled_by_caller None: no valid traceparent came.
        trace_id, sampled_by_caller = (None, None) if found is None else found
        exchange = Exchange(request_id, scope.get("method", "GET"), scope["path"])
        exchange.trace_id = trace_id
        state = scope["state"]
        state["request_id"] = request_id
        state["exchange"] = exchange
        header = (b"x-request-id", request_id.encode())

        async def answering(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                exchange.status = message["status"]
            if kind in STARTS:
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        token = _current.set(exchange)
        try:
            if scope["type"] == "websocket":
                await self.app(scope, receive, answering)
                return
            try:
                tracer = self.tracing()
                parent = None if tracer is None else self._parent(scope, sampled_by_caller)
                if tracer is None or parent is None:
                    await self.app(scope, receive, answering)
                else:
                    await self._traced(tracer, parent, exchange, scope, receive, answering)
            except Exception as exc:
                if exchange.status is not None:
                    raise  # the answer has begun: the server can only cut it off
                # Nothing was sent: the 500 is answered here, naming the request, and
                # logged with its id. Starlette's ServerErrorMiddleware (which app.py
                # leaves out) would answer with no x-request-id.
                log_unexpected(exc, f"{exchange.method} {exchange.path}", request_id)
                await _last_word(
                    INTERNAL_MESSAGE,
                    "INTERNAL_SERVER_ERROR",
                    500,
                    exchange,
                    scope,
                    receive,
                    answering,
                )
            except BaseException as exc:
                if (
                    exchange.status is not None
                    or not isinstance(exc, asyncio.CancelledError)
                    or not _stopping(scope)
                ):
                    # Cancelled: the line is written all the same, with the status the
                    # client may have seen.
                    exchange.status = exchange.status or 500
                    raise
                # Still running when the shutdown's grace period ended (uvicorn cancels
                # it): answered here, naming the request, rather than with uvicorn's
                # plain-text 500 and a traceback logged without the request's id. The
                # task ends with this answer, so the cancellation is spent here.
                current = asyncio.current_task()
                if current is not None:
                    current.uncancel()
                log.warning("request %s cut off by the shutdown", request_id)
                await _last_word(
                    SHUTDOWN_MESSAGE, "TIMEOUT", 503, exchange, scope, receive, answering
                )
            finally:
                exchange.duration_s = time.perf_counter() - exchange.started
                self._told(exchange)
        finally:
            _current.reset(token)

    def _parent(self, scope: Scope, sampled_by_caller: bool | None) -> Context | None:
        """The context to start the request's span in, or None to start none.

        With a ratio (Storefront's default sampling), the decision is made here, before
        the SDK is asked for anything: a caller's valid `traceparent` decides (sampled:
        a child of its span; not: no span), and a new trace is recorded with
        probability `ratio`. Without one, every request goes to the SDK's sampler, with
        whatever the configured propagators (OTEL_PROPAGATORS) find in its headers.
        """
        if sampled_by_caller is None and self.ratio is not None:
            return NO_PARENT if random() < self.ratio else None
        if sampled_by_caller is False and self.ratio is not None:
            return None
        return propagate.extract(scope["headers"], getter=ASGI_HEADERS)

    async def _traced(
        self,
        tracer: Tracer,
        parent: Context,
        exchange: Exchange,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """The request as a server span, a child of the caller's `traceparent` if it sent
        one; named and described once the view has said what the request was."""
        with tracer.start_as_current_span(
            f"{exchange.method} {exchange.path}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": exchange.method, "url.path": exchange.path},
        ) as span:
            if not span.is_recording():
                # Not sampled: logs keep the caller's trace id, if it sent one.
                await self.app(scope, receive, send)
                return
            context = span.get_span_context()
            exchange.trace_id = format_trace_id(context.trace_id)
            exchange.span_id = format_span_id(context.span_id)
            recording = telemetry.start_recording()
            try:
                await self.app(scope, receive, send)
            finally:
                telemetry.stop_recording(recording)
                _describe(span, exchange)

    def _told(self, exchange: Exchange) -> None:
        for hook in self.hooks:
            hook(exchange)
        if self.access and access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "%s %s %s %.1f ms",
                exchange.method,
                exchange.path,
                exchange.status,
                (exchange.duration_s or 0) * 1000,
                extra={"exchange_fields": exchange.fields()},
            )


# The codes that mean the service failed, not the caller.
FAILURES = frozenset({"INTERNAL_SERVER_ERROR", "TIMEOUT"})


def _describe(span: Span, exchange: Exchange) -> None:
    """What the request was, on its span: never a variable's value or the document."""
    if exchange.operation_type is not None:
        span.update_name(f"{exchange.operation_type} {exchange.operation_name or ''}".strip())
    found = {
        "graphql.operation.name": exchange.operation_name,
        "graphql.operation.type": exchange.operation_type,
        "storefront.document.sha256": exchange.document_hash,
        "storefront.viewer": exchange.viewer,
        "storefront.request_id": exchange.request_id,
        "storefront.sql_statements": exchange.sql_statements,
        "storefront.error_codes": list(exchange.error_codes) or None,
        "http.response.status_code": exchange.status,
    }
    span.set_attributes({name: value for name, value in found.items() if value is not None})
    failed = FAILURES.intersection(exchange.error_codes)
    if failed or (exchange.status or 0) >= 500:
        span.set_status(Status(StatusCode.ERROR, ", ".join(sorted(failed)) or None))


async def _last_word(
    message: str,
    code: str,
    status: int,
    exchange: Exchange,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    """A request that failed before anything was sent: answered with `status` and an
    error naming the request, as far as the client is still there to read it."""
    body = error_body(message, code, requestId=exchange.request_id)
    with contextlib.suppress(Exception):
        await json_response(body, status=status)(scope, receive, send)
    exchange.status = status
