"""Storefront's composition root: the ASGI app, its pools built in the lifespan.

Settings come from settings.py and the command line is cli.py (`python cli.py --help`);
`python app.py ...` still runs it, for the commands written before it had its own home.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TypedDict

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp

from db import embedded, migrations, telemetry
from db.engine import Pooler, make_engine, make_read_pool, make_sessionmaker
from db.notify import AUTH, EVENTS, Listener, make_listener
from db.read_pool import ReadPool
from db.replicas import Replicas, replica_name
from db.sign_ins import SignIns
from db.statement_counter import install_counter
from schema import build_schema, compression, graphiql
from schema import metrics as api_metrics
from schema.compression import Gzip
from schema.context import Services
from schema.cors import Cors
from schema.direct import DirectRoute
from schema.events import Events
from schema.hashing import sha256
from schema.observe import Observe
from schema.persisted import load_manifest
from schema.query import Query
from schema.view import GraphQLView
from settings import ConfigError, Settings, normalise_database_url

log = logging.getLogger("storefront")


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL when set; otherwise the embedded server, started on first use."""
    if settings.database_url is not None:
        return normalise_database_url(settings.database_url)
    return embedded.start(settings.data_dir / "postgres")


def build_engine(settings: Settings, url: str) -> AsyncEngine:
    """The write pool, its statements counted (and, when on, its transactions traced)
    through SQLAlchemy's events; its pool class measures its connections."""
    engine = make_engine(url, **_pool_options(settings))
    install_counter(engine)
    telemetry.watch_writes(engine)
    return engine


def build_read_pool(settings: Settings, url: str) -> ReadPool:
    """The read pool (db/statements.py counts its statements itself)."""
    return make_read_pool(url, **_pool_options(settings))


def build_replicas(settings: Settings, primary: ReadPool) -> Replicas | None:
    """DATABASE_REPLICA_URLS' pools, each like the read pool; a replica that cannot be
    reached within the pool's wait is skipped for the primary rather than waited for."""
    if not settings.replica_urls:
        return None
    pools = [
        (
            replica_name(url),
            make_read_pool(
                url,
                **_pool_options(settings),
                application_name="storefront-replica",
                connect_timeout_s=settings.pool_timeout_ms / 1000,
            ),
        )
        for url in settings.replica_urls
    ]
    return Replicas(primary, pools, max_lag_s=settings.replica_max_lag_ms / 1000)


class PoolOptions(TypedDict):
    pool_size: int
    max_overflow: int
    statement_timeout_ms: int
    pool_timeout_s: float
    pooler: Pooler


def _pool_options(settings: Settings) -> PoolOptions:
    return {
        "pool_size": settings.pool_size,
        "max_overflow": settings.pool_max_overflow,
        "statement_timeout_ms": settings.statement_timeout_ms,
        "pool_timeout_s": settings.pool_timeout_ms / 1000,
        "pooler": settings.database_pooler,
    }


# At shutdown, how long the read pool waits for the connections of requests just
# cancelled: they come back as soon as the server has acknowledged the cancel.
LENT_BACK_S = 2.0
# At shutdown, how long the last spans may take to reach the collector.
FLUSH_MS = 2000
# At start-up, how long to wait for the LISTEN connection before serving without it (it
# keeps trying): long enough for a reachable database, short with one that is down.
LISTEN_WAIT_S = 2.0


def _trusted_documents(settings: Settings) -> dict[str, str] | None:
    if settings.trusted_documents is None:
        return None
    try:
        return load_manifest(settings.trusted_documents)
    except ValueError as exc:
        raise ConfigError(f"STOREFRONT_TRUSTED_DOCUMENTS: {exc}") from None


def create_app(
    settings: Settings,
    database_url: str,
    *,
    query: type = Query,
    tracer_provider: TracerProvider | None = None,
) -> Starlette:
    """The ASGI app. Builds its engine in the lifespan and disposes of it on shutdown.

    `query`: the root query type (a subclass of Query with more fields, in tests).
    `tracer_provider`: where spans go; by default the one the OTEL_* variables
    describe, if they ask for tracing (Settings.traces_exporter), else none at all."""
    head = migrations.head_revision()
    trusted = _trusted_documents(settings)
    schema = build_schema(
        settings.limits,
        None if trusted is None else {sha256(text) for text in trusted.values()},
        query=query,
    )
    view = GraphQLView(
        schema,
        graphiql=settings.graphiql_enabled,
        max_body_bytes=settings.max_body_bytes,
        max_response_bytes=settings.max_response_bytes,
        trusted_documents=trusted,
        request_timeout_s=settings.request_timeout_s,
        debug_sql=settings.debug_sql,
        fast_path=settings.fast_path,
        sockets=settings.sockets,
    )

    if tracer_provider is None and settings.traces_exporter is not None:
        tracer_provider = build_tracer_provider(settings.traces_exporter, settings.traces_ratio)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Module-level switches (db/telemetry.py, schema/metrics.py), so that the request
        # path, off, pays one attribute check; one app serves a process.
        if settings.metrics:
            api_metrics.enable()
        if tracer_provider is not None:
            telemetry.set_tracer(tracer_provider.get_tracer("storefront"))
        engine = build_engine(settings, database_url)
        read_pool = build_read_pool(settings, database_url)
        # One LISTEN connection for the process (db/notify.py): events for this
        # process's subscribers, and (on_invalidate) news for anything it caches.
        events = Events(queue_size=settings.sockets.queue_events)
        # PostgreSQL itself, never a replica nor (DATABASE_DIRECT_URL) a pooler: LISTEN
        # needs a session of its own, and NOTIFY is sent only on the primary.
        listener = make_listener(settings.database_direct_url or database_url)
        listener.on(EVENTS, events.deliver)
        listener.on_gap(events.missed)
        listener.on_invalidate(AUTH, view.signed_in.revoked)  # a sign-out closes its sockets
        # Verified tokens, trusted only while the Listener hears every revocation.
        sign_ins = SignIns(
            size=settings.token_cache_size,
            ttl_s=settings.token_cache_seconds,
            trusted=lambda: listener.listening,
        )
        listener.on_invalidate(AUTH, sign_ins.invalidate)
        await listener.start(wait_s=LISTEN_WAIT_S)
        replicas = build_replicas(settings, read_pool)
        view.services = Services(
            read_pool=read_pool,
            sessionmaker=make_sessionmaker(engine),
            token_ttl_hours=settings.token_ttl_hours,
            login_limits=settings.login_limits,
            trusted_proxies=settings.forwarded_allow_ips,
            events=events,
            replicas=replicas,
            sign_ins=sign_ins,
        )
        app.state.engine = engine
        app.state.read_pool = read_pool
        app.state.listener = listener
        app.state.events = events
        app.state.replicas = replicas
        if replicas is not None:
            replicas.start()
        app.state.sign_ins = sign_ins
        try:
            yield
        finally:
            await listener.stop()
            if replicas is not None:
                await replicas.close(wait_for_lent_s=LENT_BACK_S)
            await read_pool.close(wait_for_lent_s=LENT_BACK_S)
            await engine.dispose()
            api_metrics.disable()  # db/telemetry.py's too: the tracer and the read metrics
            if tracer_provider is not None:
                # The last spans out, off the loop and briefly: a collector that is down
                # must not hold up the shutdown's grace period.
                await asyncio.to_thread(tracer_provider.force_flush, FLUSH_MS)

    async def healthz(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> JSONResponse:
        engine: AsyncEngine = request.app.state.engine
        read_pool: ReadPool = request.app.state.read_pool
        if read_pool.saturated:
            return JSONResponse({"ready": False, "reason": "connection pool saturated"}, 503)
        try:
            async with asyncio.timeout(2), engine.connect() as conn:
                current = await migrations.current_revision(conn)
        except Exception as exc:
            log.warning("readyz: database unreachable: %s", type(exc).__name__)
            return JSONResponse({"ready": False, "reason": "database unreachable"}, 503)
        ahead = current is not None and current not in migrations.known_revisions()
        if current != head and not ahead:
            reason = f"database at migration {current or 'none'}, code expects {head}"
            return JSONResponse({"ready": False, "reason": reason}, 503)
        listener: Listener = request.app.state.listener
        if not listener.listening:
            # This process's subscribers would miss what other instances publish.
            reason = "not listening for events (the LISTEN connection is down)"
            return JSONResponse({"ready": False, "reason": reason}, 503)
        answer: dict[str, object] = {"ready": True, "migration": head}
        if ahead:
            # A newer release migrated it. Between releases migrations only add (README,
            # "Rolling out a migration"), so this code still works, and stays in
            # service until the new instances take over.
            answer["databaseAhead"] = current
        replicas: Replicas | None = request.app.state.replicas
        if replicas is not None:
            # Reported, never a reason to be taken out of service: with no replica to
            # use, reads go to the primary (and every instance sees the same replicas).
            answer["replicas"] = {
                "configured": len(replicas.replicas),
                "usable": replicas.usable(),
            }
        return JSONResponse(answer)

    routes: list[BaseRoute] = [
        # Every method reaches the view, which answers any but GET and POST with a
        # GraphQL error body and 405 (over HTTP through DirectRoute, before the router).
        Route("/graphql", view),
        WebSocketRoute("/graphql", view),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
    ]
    if settings.metrics_on_main_port:
        routes.append(Route("/metrics", api_metrics.endpoint(settings.metrics_multiprocess_dir)))
    if settings.graphiql_enabled:
        # The GraphiQL page's scripts and styles (the view serves the page at /graphql).
        routes.append(Mount(graphiql.ASSETS_PATH, app=graphiql.Assets()))
    app = Storefront(
        routes=routes,
        middleware=http_middleware(settings, graphql=view),
        lifespan=lifespan,
    )
    # Starlette would send /graphql/ to /graphql with a 307 whose URL it builds from the
    # request's Host header, which the client chooses (and a cache in front might keep
    # for everyone): a path with a trailing slash is a 404 like any unknown one.
    app.router.redirect_slashes = False
    return app


class Storefront(Starlette):
    """Starlette without its outermost ServerErrorMiddleware. Observe, our own outermost
    layer (`http_middleware`), already answers an HTTP request that fails before its
    response has begun, with a 500 that names the request (Starlette's would answer
    without its id), and passes every other scope and failure through, as Starlette's
    does: what it would add to every request is a wrapper around `send` (1.5 % of a
    post by ID's instructions). A failure in Observe itself still gets uvicorn's 500."""

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        if isinstance(stack, ServerErrorMiddleware) and isinstance(stack.app, Observe):
            return stack.app
        return stack


def _tracer() -> Tracer | None:
    return telemetry.tracer


def build_tracer_provider(exporter: str, ratio: float | None = None) -> TracerProvider:
    """Spans batched to the exporter `exporter` names (`otlp`: OTLP over HTTP, set up by
    the SDK from OTEL_EXPORTER_OTLP_*; `console`: standard output). The service name and
    the resource are the SDK's own OTEL_* settings; so is the sampler, unless `ratio`
    asks for Storefront's default: a caller's decision when it sent one, else a new
    trace recorded with that probability (Settings.traces_ratio, applied by Observe)."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
    )
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: "storefront"}))
    # With a ratio, Observe picks which new traces to start (schema/observe.py); the
    # SDK records those, and follows a caller's decision.
    sampler = None if ratio is None else ParentBased(ALWAYS_ON)
    provider = TracerProvider(resource=resource, sampler=sampler)
    span_exporter: SpanExporter
    if exporter == "console":
        span_exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        span_exporter = OTLPSpanExporter()
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    return provider


def http_middleware(settings: Settings, graphql: ASGIApp | None = None) -> list[Middleware]:
    """Around every route, outermost first. `Observe` outermost: it names the request,
    so that every response carries `x-request-id`, a CORS preflight answered by `Cors`
    included, and tells what the request did once it is answered (schema/observe.py).
    Then `graphql` (the view) takes its HTTP requests before Gzip and Starlette's
    router do (schema/direct.py): it encodes its own answers (schema/compression.py)."""
    hooks = (api_metrics.observe,) if settings.metrics else ()
    observe = Middleware(
        Observe,
        access=settings.access_log,
        hooks=hooks,
        tracing=_tracer,
        ratio=settings.traces_ratio,
    )
    middleware = [observe]
    if settings.cors_origins:
        middleware.append(Middleware(Cors, origins=settings.cors_origins))
    if graphql is not None:
        # Above Gzip: the view encodes its own answers (schema/compression.py).
        middleware.append(Middleware(DirectRoute, path="/graphql", endpoint=graphql))
    middleware.append(
        Middleware(Gzip, minimum_size=compression.MINIMUM_BYTES, level=compression.LEVEL)
    )
    return middleware


if __name__ == "__main__":
    from cli import run

    raise SystemExit(run())
