"""Prometheus metrics: off unless served; /metrics parses, and its counters move with
traffic (in this process, and from a `serve` in multiprocess mode on a port of its own)."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.testclient import TestClient

from app import create_app
from db.read_pool import ReadPool
from db.throttle import LoginLimits
from schema import metrics as api_metrics
from schema.events import Events, PostPublished
from settings import Settings
from tests.factories import make_post, make_user
from tests.processes import env, serving

FEED = "query Feed { posts(first: 5) { edges { node { title author { username } } } } }"
USERS = (
    "query Users { users(first: 5) { edges { node { username posts(first: 2) { totalCount } } } } }"
)
TOO_DEEP = "{ " + "viewer { " * 12 + "id" + " }" * 12 + " }"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a /metrics page, by name and labels (parsed as Prometheus does)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(page: str, name: str, **labels: str) -> float:
    return samples(page).get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
async def metered_app(
    settings: Settings, database_url: str, engine: object
) -> AsyncIterator[Starlette]:
    on = Settings(
        database_url=database_url,
        metrics_on_main_port=True,
        login_limits=LoginLimits(max_failures_per_account=1),
    )
    app = create_app(on, database_url)
    async with app.router.lifespan_context(app):
        yield app
    assert api_metrics.metrics is None  # off again once the app has stopped


@pytest.fixture
async def metered(metered_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=metered_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_the_pool_gauges_are_read_at_the_scrape(
    metered_app: Starlette, metered: httpx.AsyncClient
) -> None:
    """The gauges are set from the pool (not on every checkout): a scrape sees the
    connections lent at that moment, and the queue."""
    read_pool: ReadPool = metered_app.state.read_pool
    assert "errors" not in (await metered.post("/graphql", json={"query": FEED})).json()
    async with read_pool.connection(), read_pool.connection():
        held = await scrape(metered)
    after = await scrape(metered)
    assert value(held, "storefront_db_pool_connections_in_use", pool="read") == 2
    assert value(after, "storefront_db_pool_connections_in_use", pool="read") == 0
    assert value(after, "storefront_db_pool_waiting", pool="read") == 0


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return response.text


async def test_metrics_are_off_unless_a_setting_serves_them(client: httpx.AsyncClient) -> None:
    assert (await client.get("/metrics")).status_code == 404
    assert api_metrics.metrics is None


async def test_counters_move_with_traffic(
    metered: httpx.AsyncClient, session: AsyncSession
) -> None:
    ann = await make_user(session, username="ann")
    for n in range(3):
        await make_post(session, ann.id, title=f"p{n}")
    before = await scrape(metered)

    for _ in range(2):
        assert "errors" not in (await metered.post("/graphql", json={"query": FEED})).json()
    assert "errors" not in (await metered.post("/graphql", json={"query": USERS})).json()
    deep = (await metered.post("/graphql", json={"query": TOO_DEEP})).json()
    assert deep["errors"][0]["extensions"]["limit"] == "depth"
    missing = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "ab" * 32}}}
    assert (await metered.post("/graphql", json=missing)).json()["errors"][0]["extensions"][
        "code"
    ] == "PERSISTED_QUERY_NOT_FOUND"
    log_in = 'mutation { logIn(input: {login: "ann", password: "wrong password"}) { token } }'
    for _ in range(2):  # one failure allowed, so the second attempt is throttled
        await metered.post("/graphql", json={"query": log_in})
    after = await scrape(metered)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ok = {"type": "query", "outcome": "ok"}
    assert moved("storefront_requests_total", operation="Feed", **ok) == 2
    assert moved("storefront_requests_total", operation="Users", **ok) == 1
    assert moved("storefront_requests_total", operation="anonymous", type="none",
                 outcome="PERSISTED_QUERY_NOT_FOUND") == 1  # fmt: skip
    assert moved("storefront_request_duration_seconds_count", operation="Feed", type="query") == 2
    # The feed is one statement a request; the users with their pages of posts (read
    # ahead, one statement) and their counts, two.
    assert moved("storefront_request_sql_statements_sum", type="query") == 4
    assert moved("storefront_loader_batch_keys_count", read="post_counts_by_author_ids") == 1
    assert moved("storefront_loader_batch_keys_sum", read="post_counts_by_author_ids") == 1
    assert moved("storefront_sql_statement_duration_seconds_count", shape="counts.by_author") == 1
    assert moved("storefront_db_pool_wait_seconds_count", pool="read") >= 3
    # The sign-in attempts' transactions, on SQLAlchemy's pool.
    assert moved("storefront_db_pool_wait_seconds_count", pool="write") >= 1
    assert value(after, "storefront_db_pool_waiting", pool="write") == 0
    assert moved("storefront_documents_refused_total", limit="depth") == 1
    assert moved("storefront_persisted_documents_total", result="miss") == 1
    assert moved("storefront_sign_ins_throttled_total") == 1
    assert value(after, "storefront_db_pool_connections_in_use", pool="read") == 0
    assert value(after, "storefront_db_pool_waiting", pool="read") == 0
    assert moved("storefront_requests_total", operation="Feed", type="query", outcome="ok") == 2


async def test_subscriptions_and_events_are_counted() -> None:
    api_metrics.enable()
    try:
        events = Events(queue_size=1)
        before = value(_own_page(), "storefront_events_delivered_total")
        dropped_before = value(_own_page(), "storefront_events_dropped_total")
        async with events.subscribe(lambda: None), events.subscribe(lambda: None):
            assert value(_own_page(), "storefront_subscriptions_open") == 2
            events.dispatch(PostPublished(1, ()))  # one each
            events.dispatch(PostPublished(2, ()))  # a whole queue behind: both dropped
        assert value(_own_page(), "storefront_subscriptions_open") == 0
        assert value(_own_page(), "storefront_events_delivered_total") - before == 2
        assert value(_own_page(), "storefront_events_dropped_total") - dropped_before == 4
    finally:
        api_metrics.disable()


def _own_page() -> str:
    return generate_latest(REGISTRY).decode()


@pytest.mark.parametrize("workers", [1, 2])
async def test_multiprocess_metrics_on_a_port_of_their_own(
    own_database: str, tmp_path: Path, workers: int
) -> None:
    shared = tmp_path / "prometheus"
    shared.mkdir()
    stale = shared / "counter_99999999.db"  # an earlier run's, which must not count
    stale.write_bytes(b"")
    settings = env(
        DATABASE_URL=own_database,
        STOREFRONT_METRICS_PORT="0",
        PROMETHEUS_MULTIPROC_DIR=str(shared),
    )
    args = ("--workers", str(workers))
    async with serving(settings, tmp_path / "served", args=args) as served:
        await served.ready(within_s=60)
        found = re.search(r"metrics: (http://\S+)/metrics", served.out.read_text())
        assert found, served.out.read_text()
        async with httpx.AsyncClient(timeout=5) as http:
            assert (await http.get(f"{served.url}/metrics")).status_code == 404
            before = (await http.get(f"{found[1]}/metrics")).text
            for _ in range(3):
                await http.post(f"{served.url}/graphql", json={"query": FEED})
            # New connections too, which the kernel spreads over the workers.
            for _ in range(3 * workers):
                async with httpx.AsyncClient(timeout=5) as fresh:
                    await fresh.post(f"{served.url}/graphql", json={"query": FEED})
            # Each process hands its counts on within a second (db/tally.py).
            feed = {"operation": "Feed", "type": "query", "outcome": "ok"}
            expected = value(before, "storefront_requests_total", **feed) + 3 + 3 * workers
            deadline = asyncio.get_running_loop().time() + 10
            while True:
                after = (await http.get(f"{found[1]}/metrics")).text
                counted = value(after, "storefront_requests_total", **feed)
                if counted >= expected or asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.2)
        await served.stop()
    assert not stale.exists(), "an earlier run's file was left to count"
    writers = {path.stem.rsplit("_", 1)[-1] for path in shared.glob("*.db")}
    assert len(writers) >= workers, f"files of {writers} for {workers} worker(s)"
    assert (
        value(after, "storefront_requests_total", **feed)
        - value(before, "storefront_requests_total", **feed)
        == 3 + 3 * workers
    )


def test_a_subscription_refused_over_the_websocket_counts_by_limit(
    settings: Settings, database_url: str, engine: object
) -> None:
    deep = "subscription { postPublished { " + "author { posts(first: 1) { edges { node { " * 4
    deep += "id" + " } } } }" * 4 + " } }"
    on = dataclasses.replace(settings, database_url=database_url, metrics_on_main_port=True)
    with TestClient(create_app(on, database_url)) as client:
        before = client.get("/metrics").text
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json({"type": "connection_init"})
            assert ws.receive_json()["type"] == "connection_ack"
            ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": deep}})
            message = ws.receive_json()
        after = client.get("/metrics").text
    assert message["type"] == "error"
    assert message["payload"][0]["extensions"]["limit"] == "depth"
    name = "storefront_documents_refused_total"
    assert value(after, name, limit="depth") - value(before, name, limit="depth") == 1
