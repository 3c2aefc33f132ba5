"""settings.py: an empty environment gives `Settings()`, and the layers below that keep
a default of their own (db/ and schema/ cannot read settings.py) keep the same one."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import pytest

from db.engine import Pooler, make_engine, make_read_pool
from schema.context import Services
from schema.events import Events
from schema.websocket import SocketLimits
from settings import DEFAULT_TRACES_RATIO, ConfigError, Settings


def test_an_empty_environment_is_every_default() -> None:
    assert Settings.from_env({}) == Settings()


@pytest.mark.parametrize("factory", [make_engine, make_read_pool])
def test_the_pools_defaults_are_the_settings_defaults(factory: Callable[..., Any]) -> None:
    defaults = {
        name: parameter.default for name, parameter in inspect.signature(factory).parameters.items()
    }
    settings = Settings()
    assert defaults["pool_size"] == settings.pool_size
    assert defaults["max_overflow"] == settings.pool_max_overflow
    assert defaults["statement_timeout_ms"] == settings.statement_timeout_ms
    assert defaults["pool_timeout_s"] == settings.pool_timeout_ms / 1000
    assert defaults["pooler"] == settings.database_pooler


def test_the_token_lifetime_default_is_the_settings_default() -> None:
    (ttl,) = [f for f in dataclasses.fields(Services) if f.name == "token_ttl_hours"]
    assert ttl.default == Settings().token_ttl_hours


def test_the_websocket_limits_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "STOREFRONT_MAX_WEBSOCKETS": "5",
            "STOREFRONT_MAX_SUBSCRIPTIONS_PER_CONNECTION": "2",
            "STOREFRONT_SUBSCRIBER_QUEUE_EVENTS": "10",
            "STOREFRONT_WEBSOCKET_PING_SECONDS": "0",
        }
    )
    assert settings.sockets == SocketLimits(
        connections=5, subscriptions_per_connection=2, queue_events=10, ping_interval_s=0
    )
    assert Events().queue_size == Settings().sockets.queue_events


def test_replica_urls_are_read_like_database_url() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://u@primary/shop",
            "DATABASE_REPLICA_URLS": " postgres://u@r1/shop, postgresql://u@r2:5433/shop ,",
            "STOREFRONT_REPLICA_MAX_LAG_MS": "0",
        }
    )
    assert settings.replica_urls == (
        "postgresql+asyncpg://u@r1/shop",
        "postgresql+asyncpg://u@r2:5433/shop",
    )
    assert settings.replica_max_lag_ms == 0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_REPLICA_URLS": "postgresql://u@r1/shop"}, "needs DATABASE_URL"),
        (
            {"DATABASE_URL": "postgresql://u@p/shop", "DATABASE_REPLICA_URLS": "mysql://u@r/shop"},
            "DATABASE_REPLICA_URLS names 'mysql'",
        ),
        (
            {"DATABASE_URL": "postgresql://u@p/shop", "DATABASE_REPLICA_URLS": "postgresql://u@r"},
            "DATABASE_REPLICA_URLS names no database",
        ),
        ({"STOREFRONT_REPLICA_MAX_LAG_MS": "-1"}, "STOREFRONT_REPLICA_MAX_LAG_MS"),
    ],
)
def test_wrong_replica_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_the_pooler_is_named_by_its_value() -> None:
    pooler = Settings.from_env(
        {
            "STOREFRONT_DATABASE_POOLER": "PgBouncer-Transaction",
            "DATABASE_URL": "postgresql://u@bouncer:6432/shop",
            "DATABASE_DIRECT_URL": "postgres://u@primary/shop",
        }
    )
    assert pooler.database_pooler is Pooler.PGBOUNCER_TRANSACTION
    assert pooler.database_direct_url == "postgresql+asyncpg://u@primary/shop"
    assert Settings.from_env({"STOREFRONT_WORKERS": "3"}).workers == 3


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"DATABASE_URL": "postgresql://u@b/shop", "STOREFRONT_DATABASE_POOLER": "pgbouncer"},
            "STOREFRONT_DATABASE_POOLER=pgbouncer needs DATABASE_DIRECT_URL",
        ),
        (
            {
                "DATABASE_URL": "postgresql://u@b/shop",
                "STOREFRONT_DATABASE_POOLER": "pgbouncer-transaction",
            },
            "pgbouncer-transaction needs DATABASE_DIRECT_URL",
        ),
        ({"STOREFRONT_DATABASE_POOLER": "pgbouncer"}, "needs DATABASE_URL"),
        (
            {"DATABASE_DIRECT_URL": "postgresql://u@p/shop"},
            "DATABASE_DIRECT_URL needs DATABASE_URL",
        ),
        (
            {"DATABASE_URL": "postgresql://u@b/shop", "DATABASE_DIRECT_URL": "postgresql://u@p"},
            "DATABASE_DIRECT_URL names no database",
        ),
    ],
)
def test_a_pooler_needs_where_to_listen(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_without_a_pooler_the_listen_connection_uses_database_url() -> None:
    settings = Settings.from_env({"DATABASE_URL": "postgresql://u@p/shop"})
    assert settings.database_direct_url is None


@pytest.mark.parametrize(
    ("environment", "exporter"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, None),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, None),
    ],
)
def test_tracing_follows_the_standard_otel_variables(
    environment: dict[str, str], exporter: str | None
) -> None:
    assert Settings.from_env(environment).traces_exporter == exporter


@pytest.mark.parametrize(
    "environment",
    [
        {"OTEL_TRACES_EXPORTER": "zipkin"},
        {"STOREFRONT_LOG_FORMAT": "xml"},
        {"STOREFRONT_METRICS_PORT": "70000"},
        {"OTEL_TRACES_SAMPLER_ARG": "1.5"},
        {"OTEL_TRACES_SAMPLER_ARG": "often"},
    ],
)
def test_wrong_observability_settings_are_refused(environment: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=next(iter(environment))):
        Settings.from_env(environment)


@pytest.mark.parametrize(
    ("environment", "ratio"),
    [
        ({}, DEFAULT_TRACES_RATIO),
        ({"OTEL_TRACES_SAMPLER_ARG": "0.25"}, 0.25),
        ({"OTEL_TRACES_SAMPLER": "parentbased_always_on"}, None),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.5"}, None),
    ],
)
def test_traces_are_sampled_by_ratio_unless_a_sampler_is_named(
    environment: dict[str, str], ratio: float | None
) -> None:
    assert Settings.from_env(environment).traces_ratio == ratio


def test_metrics_are_kept_only_when_served() -> None:
    assert not Settings().metrics
    assert Settings.from_env({"STOREFRONT_METRICS": "on"}).metrics
    assert Settings.from_env({"STOREFRONT_METRICS_PORT": "9100"}).metrics_port == 9100
    assert Settings.from_env({"STOREFRONT_LOG_FORMAT": "TEXT"}).log_format == "text"
