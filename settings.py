"""Every setting, read once from the environment (the README's Settings table).

The only module that reads the environment: `app.py` and `cli.py` are handed a
`Settings`, and `db/` and `schema/` take what they need as arguments. Each default is
written once: here, or, where a lower layer needs the same value as its own default,
in that layer (the pool's in db/engine.py, the token lifetime in db/accounts.py, the
sign-in limits in db/throttle.py, the query limits in schema/limits.py, the WebSocket
limits in schema/websocket.py), from where this module takes it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from db.accounts import TOKEN_TTL_HOURS
from db.engine import (
    POOL_MAX_OVERFLOW,
    POOL_SIZE,
    POOL_TIMEOUT_MS,
    STATEMENT_TIMEOUT_MS,
    Pooler,
)
from db.replicas import MAX_LAG_MS
from db.sign_ins import TOKEN_CACHE_SECONDS, TOKEN_CACHE_SIZE
from db.throttle import LoginLimits
from schema.client_address import TrustedProxies
from schema.cors import parse_origins
from schema.limits import Limits
from schema.websocket import SocketLimits

ROOT = Path(__file__).resolve().parent
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("json", "text")
# The OpenTelemetry SDK reads its own OTEL_* variables (endpoint, headers, sampler,
# service name); these decide only whether Storefront traces at all.
OTEL_EXPORTERS = ("otlp", "console")
# Recording a span costs far more than a request's own work on a small read (bench/
# README.md, "Observed"): unless OTEL_TRACES_SAMPLER says otherwise, a new trace is
# recorded one time in this many, and a caller's sampled `traceparent` always.
DEFAULT_TRACES_RATIO = 0.01


class ConfigError(Exception):
    """A setting is missing or wrong; the message says which and how."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting; `Settings()` is every default, `Settings.from_env()` the process's."""

    database_url: str | None = None
    data_dir: Path = ROOT / ".data"
    graphiql: bool | None = None
    debug_sql: bool = False
    fast_path: bool = True
    # Per pool (reads and writes each have one). Overflow connections are closed when
    # returned, so a pool smaller than the concurrency churns connections: size it.
    pool_size: int = POOL_SIZE
    pool_max_overflow: int = POOL_MAX_OVERFLOW
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS
    request_timeout_s: float = 10.0
    token_ttl_hours: int = TOKEN_TTL_HOURS
    # Verified tokens kept per process (0: none), and for how long at most (db/sign_ins.py).
    token_cache_size: int = TOKEN_CACHE_SIZE
    token_cache_seconds: int = TOKEN_CACHE_SECONDS
    max_body_bytes: int = 100 * 1024
    max_response_bytes: int = 64 * 1024 * 1024
    # How long a request may wait for a pooled connection before it fails with TIMEOUT.
    pool_timeout_ms: int = POOL_TIMEOUT_MS
    limits: Limits = field(default_factory=Limits)
    trusted_documents: Path | None = None
    log_level: str = "INFO"
    login_limits: LoginLimits = field(default_factory=LoginLimits)
    forwarded_allow_ips: TrustedProxies = field(default_factory=TrustedProxies)
    shutdown_grace_s: int = 10
    # Browser origins allowed to call the API (schema/cors.py); none by default.
    cors_origins: tuple[str, ...] = ()
    sockets: SocketLimits = field(default_factory=SocketLimits)
    # Streaming replicas of DATABASE_URL that queries may read from (db/replicas.py).
    replica_urls: tuple[str, ...] = ()
    replica_max_lag_ms: int = MAX_LAG_MS
    # What stands between the service and PostgreSQL (db/engine.py, Pooler).
    database_pooler: Pooler = Pooler.NONE
    # PostgreSQL itself (the primary), for what needs a session of its own: the LISTEN
    # connection (db/notify.py). None: DATABASE_URL's server.
    database_direct_url: str | None = None
    # `serve`'s processes on its one socket (workers.py), unless --workers says otherwise.
    workers: int = 1
    # "json" or "text"; None: json unless standard error is a terminal (logs.py decides).
    log_format: str | None = None
    access_log: bool = True
    # Prometheus: /metrics on the API's own port, and/or on a port of its own (on the
    # --host address). Neither set: no metrics are kept at all.
    metrics_on_main_port: bool = False
    metrics_port: int | None = None
    # prometheus_client's own variable: several processes share their metrics there.
    metrics_multiprocess_dir: Path | None = None
    # Which span exporter the OTEL_* variables ask for; None: no tracing at all.
    traces_exporter: str | None = None
    # The share of new traces recorded when OTEL_TRACES_SAMPLER is unset (Storefront's
    # default: parent-based, this ratio at the root); None: the SDK reads its sampler.
    traces_ratio: float | None = DEFAULT_TRACES_RATIO

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings `env` (the process's environment unless given) names; what it
        leaves unset or empty keeps its default. A wrong value raises ConfigError."""
        env = os.environ if env is None else env
        default = cls()
        pooler = _pooler(env, default.database_pooler)
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            data_dir=_path(env, "STOREFRONT_DATA_DIR") or default.data_dir,
            graphiql=_bool(env, "STOREFRONT_GRAPHIQL"),
            debug_sql=_flag(env, "STOREFRONT_DEBUG_SQL", default.debug_sql),
            fast_path=_flag(env, "STOREFRONT_FAST_PATH", default.fast_path),
            pool_size=_int(env, "STOREFRONT_POOL_SIZE", default.pool_size),
            pool_max_overflow=_int(
                env, "STOREFRONT_POOL_MAX_OVERFLOW", default.pool_max_overflow, minimum=0
            ),
            statement_timeout_ms=_int(
                env, "STOREFRONT_STATEMENT_TIMEOUT_MS", default.statement_timeout_ms
            ),
            request_timeout_s=_seconds(
                env, "STOREFRONT_REQUEST_TIMEOUT_MS", default.request_timeout_s
            ),
            token_ttl_hours=_int(env, "STOREFRONT_TOKEN_TTL_HOURS", default.token_ttl_hours),
            token_cache_size=_int(
                env, "STOREFRONT_TOKEN_CACHE_SIZE", default.token_cache_size, minimum=0
            ),
            token_cache_seconds=_int(
                env, "STOREFRONT_TOKEN_CACHE_SECONDS", default.token_cache_seconds, minimum=0
            ),
            max_body_bytes=_int(env, "STOREFRONT_MAX_BODY_BYTES", default.max_body_bytes),
            max_response_bytes=_int(
                env, "STOREFRONT_MAX_RESPONSE_BYTES", default.max_response_bytes
            ),
            pool_timeout_ms=_int(env, "STOREFRONT_POOL_TIMEOUT_MS", default.pool_timeout_ms),
            limits=_limits(env, default.limits),
            trusted_documents=_path(env, "STOREFRONT_TRUSTED_DOCUMENTS"),
            log_level=_log_level(env, default.log_level),
            login_limits=_login_limits(env, default.login_limits),
            forwarded_allow_ips=_trusted_proxies(env),
            shutdown_grace_s=_int(
                env, "STOREFRONT_SHUTDOWN_GRACE_SECONDS", default.shutdown_grace_s, minimum=0
            ),
            cors_origins=_cors_origins(env),
            sockets=_sockets(env, default.sockets),
            replica_urls=_replica_urls(env),
            replica_max_lag_ms=_int(
                env, "STOREFRONT_REPLICA_MAX_LAG_MS", default.replica_max_lag_ms, minimum=0
            ),
            database_pooler=pooler,
            database_direct_url=_direct_url(env, pooler),
            workers=_int(env, "STOREFRONT_WORKERS", default.workers),
            log_format=_log_format(env),
            access_log=_flag(env, "STOREFRONT_ACCESS_LOG", default.access_log),
            metrics_on_main_port=_flag(env, "STOREFRONT_METRICS", default.metrics_on_main_port),
            metrics_port=_port(env, "STOREFRONT_METRICS_PORT"),
            metrics_multiprocess_dir=_path(env, "PROMETHEUS_MULTIPROC_DIR"),
            traces_exporter=_traces_exporter(env),
            traces_ratio=_traces_ratio(env),
        )

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def graphiql_enabled(self) -> bool:
        """GraphiQL is for development: on by default only with the embedded database."""
        return self.embedded if self.graphiql is None else self.graphiql

    @property
    def metrics(self) -> bool:
        """Whether metrics are kept: only when something serves them."""
        return self.metrics_on_main_port or self.metrics_port is not None


def normalise_database_url(raw: str, name: str = "DATABASE_URL") -> str:
    """Accept the usual `postgres://` and `postgresql://` spellings; drive them with asyncpg.
    `name`: the setting `raw` came from, for the error."""
    expected = "postgresql+asyncpg://user:password@host:port/database"
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        raise ConfigError(f"{name} is not a database URL (expected {expected})") from None
    if url.drivername == "postgres" or url.get_backend_name() == "postgresql":
        url = url.set(drivername="postgresql+asyncpg")
    else:
        raise ConfigError(
            f"{name} names {url.drivername!r}; Storefront needs PostgreSQL ({expected})"
        )
    if url.port is not None and not 0 < url.port < 65536:
        raise ConfigError(f"{name} names port {url.port}, which is not 1 to 65535")
    if not url.database:
        raise ConfigError(f"{name} names no database (…/database at its end)")
    return url.render_as_string(hide_password=False)


def _replica_urls(env: Mapping[str, str]) -> tuple[str, ...]:
    name = "DATABASE_REPLICA_URLS"
    raw = [part.strip() for part in (env.get(name) or "").split(",") if part.strip()]
    if raw and not env.get("DATABASE_URL"):
        # The embedded server has no replicas; the primary must be named.
        raise ConfigError(f"{name} needs DATABASE_URL (the primary they replicate)")
    return tuple(normalise_database_url(url, name) for url in raw)


def _direct_url(env: Mapping[str, str], pooler: Pooler) -> str | None:
    """DATABASE_DIRECT_URL. A pooler may pass LISTEN to a server connection and hand that
    connection to other clients after the transaction (PgBouncer in transaction mode
    does, without a word): the events of other instances would then go unheard. Which
    PgBouncer mode `pgbouncer` stands for is not known here, so behind any pooler the
    operator names where to LISTEN (DATABASE_URL again for PgBouncer in session mode)."""
    name = "DATABASE_DIRECT_URL"
    raw = (env.get(name) or "").strip()
    if raw:
        if not env.get("DATABASE_URL"):
            raise ConfigError(f"{name} needs DATABASE_URL (the database it reaches directly)")
        return normalise_database_url(raw, name)
    if pooler is not Pooler.NONE:
        if not env.get("DATABASE_URL"):
            raise ConfigError(
                f"STOREFRONT_DATABASE_POOLER={pooler.value} needs DATABASE_URL"
                " (the embedded PostgreSQL has no pooler in front)"
            )
        raise ConfigError(
            f"STOREFRONT_DATABASE_POOLER={pooler.value} needs {name}: PostgreSQL itself,"
            " for the LISTEN connection that hears other instances' events (through"
            " PgBouncer in transaction mode it hears nothing); with PgBouncer in session"
            f" mode, {name} may repeat DATABASE_URL"
        )
    return None


def _bool(env: Mapping[str, str], name: str) -> bool | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = _bool(env, name)
    return default if value is None else value


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be {minimum} or more")
    return value


def _seconds(env: Mapping[str, str], name: str, default_s: float) -> float:
    """A duration set in milliseconds (`name` ends in _MS), in seconds."""
    return _int(env, name, round(default_s * 1000)) / 1000


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name)
    return Path(raw).absolute() if raw else None


def _limits(env: Mapping[str, str], default: Limits) -> Limits:
    return Limits(
        depth=_int(env, "STOREFRONT_MAX_DEPTH", default.depth),
        aliases=_int(env, "STOREFRONT_MAX_ALIASES", default.aliases, minimum=0),
        tokens=_int(env, "STOREFRONT_MAX_TOKENS", default.tokens),
        root_fields=_int(env, "STOREFRONT_MAX_ROOT_FIELDS", default.root_fields),
        selection_fields=_int(env, "STOREFRONT_MAX_SELECTION_FIELDS", default.selection_fields),
        cost=_int(env, "STOREFRONT_MAX_COST", default.cost),
        password_checks=_int(env, "STOREFRONT_MAX_PASSWORD_CHECKS", default.password_checks),
    )


def _login_limits(env: Mapping[str, str], default: LoginLimits) -> LoginLimits:
    return LoginLimits(
        max_failures_per_account=_int(
            env, "STOREFRONT_LOGIN_MAX_FAILURES_PER_ACCOUNT", default.max_failures_per_account
        ),
        max_failures_per_address=_int(
            env, "STOREFRONT_LOGIN_MAX_FAILURES_PER_ADDRESS", default.max_failures_per_address
        ),
        max_sign_ups_per_address=_int(
            env, "STOREFRONT_SIGN_UP_MAX_PER_ADDRESS", default.max_sign_ups_per_address
        ),
        window_seconds=_int(env, "STOREFRONT_LOGIN_WINDOW_SECONDS", default.window_seconds),
    )


def _sockets(env: Mapping[str, str], default: SocketLimits) -> SocketLimits:
    return SocketLimits(
        connections=_int(env, "STOREFRONT_MAX_WEBSOCKETS", default.connections),
        subscriptions_per_connection=_int(
            env,
            "STOREFRONT_MAX_SUBSCRIPTIONS_PER_CONNECTION",
            default.subscriptions_per_connection,
        ),
        queue_events=_int(env, "STOREFRONT_SUBSCRIBER_QUEUE_EVENTS", default.queue_events),
        ping_interval_s=_int(
            env,
            "STOREFRONT_WEBSOCKET_PING_SECONDS",
            round(default.ping_interval_s),
            minimum=0,
        ),
    )


def _trusted_proxies(env: Mapping[str, str]) -> TrustedProxies:
    try:
        return TrustedProxies.parse(env.get("STOREFRONT_FORWARDED_ALLOW_IPS") or "")
    except ValueError as exc:
        raise ConfigError(f"STOREFRONT_FORWARDED_ALLOW_IPS: {exc}") from None


def _cors_origins(env: Mapping[str, str]) -> tuple[str, ...]:
    try:
        return parse_origins(env.get("STOREFRONT_CORS_ORIGINS") or "")
    except ValueError as exc:
        raise ConfigError(f"STOREFRONT_CORS_ORIGINS: {exc}") from None


def _pooler(env: Mapping[str, str], default: Pooler) -> Pooler:
    raw = env.get("STOREFRONT_DATABASE_POOLER") or default.value
    try:
        return Pooler(raw.lower())
    except ValueError:
        names = ", ".join(pooler.value for pooler in Pooler)
        raise ConfigError(f"STOREFRONT_DATABASE_POOLER={raw!r} is not one of {names}") from None


def _log_level(env: Mapping[str, str], default: str) -> str:
    raw = env.get("STOREFRONT_LOG_LEVEL") or default
    if raw.upper() not in LOG_LEVELS:
        raise ConfigError(f"STOREFRONT_LOG_LEVEL={raw!r} is not one of {', '.join(LOG_LEVELS)}")
    return raw.upper()


def _log_format(env: Mapping[str, str]) -> str | None:
    raw = env.get("STOREFRONT_LOG_FORMAT")
    if not raw:
        return None
    if raw.lower() not in LOG_FORMATS:
        raise ConfigError(f"STOREFRONT_LOG_FORMAT={raw!r} is not one of {', '.join(LOG_FORMATS)}")
    return raw.lower()


def _port(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name)
    if not raw:
        return None
    port = _int(env, name, 0, minimum=0)  # 0: any free port, as `serve --port 0`
    if port > 65535:
        raise ConfigError(f"{name}={raw!r} is not a port number (0 to 65535)")
    return port


def _traces_ratio(env: Mapping[str, str]) -> float | None:
    """Storefront's default sampler's ratio: OTEL_TRACES_SAMPLER_ARG if given, else
    DEFAULT_TRACES_RATIO; None when OTEL_TRACES_SAMPLER names a sampler for the SDK."""
    if (env.get("OTEL_TRACES_SAMPLER") or "").strip():
        return None
    raw = (env.get("OTEL_TRACES_SAMPLER_ARG") or "").strip()
    if not raw:
        return DEFAULT_TRACES_RATIO
    try:
        ratio = float(raw)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise ConfigError(f"OTEL_TRACES_SAMPLER_ARG={raw!r} is not a ratio from 0 to 1")
    return ratio


def _traces_exporter(env: Mapping[str, str]) -> str | None:
    """The exporter the standard OTEL_* variables ask for, or None for no tracing.

    Tracing is on when OTEL_TRACES_EXPORTER names an exporter, or an OTLP endpoint is
    set, unless OTEL_SDK_DISABLED is true or OTEL_TRACES_EXPORTER is `none`: the
    OpenTelemetry specification's meanings, so the usual deployment recipes work.
    """
    if _flag(env, "OTEL_SDK_DISABLED", False):
        return None
    raw = (env.get("OTEL_TRACES_EXPORTER") or "").strip().lower()
    if raw == "none":
        return None
    if raw:
        names = [name.strip() for name in raw.split(",") if name.strip()]
        unknown = [name for name in names if name not in OTEL_EXPORTERS]
        if unknown or len(names) != 1:
            raise ConfigError(
                f"OTEL_TRACES_EXPORTER={raw!r}: Storefront exports to one of "
                f"{', '.join(OTEL_EXPORTERS)} (or none)"
            )
        return names[0]
    endpoints = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    return "otlp" if any(env.get(name) for name in endpoints) else None
