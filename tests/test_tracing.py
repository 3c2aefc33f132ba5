"""OpenTelemetry traces: a span per request with a child per batch (both executors),
the caller's traceparent honoured, never a variable's value; off, no span at all."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id
from sqlalchemy.ext.asyncio import AsyncSession

import logs
from app import build_tracer_provider, create_app
from db import telemetry
from schema.hashing import sha256
from settings import DEFAULT_TRACES_RATIO, Settings
from tests.factories import make_post, make_user

NESTED = """
query Authors($search: String) {
  users(first: 10, search: $search) {
    edges { node { username posts(first: 3) { totalCount edges { node { title } } } } }
  }
}
"""
SECRET_SEARCH = "ada_secret_search"
TYPENAME = {"query": "{ __typename }"}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@dataclass
class Traced:
    client: httpx.AsyncClient
    exporter: InMemorySpanExporter


async def _traced(settings: Settings, ratio: float = 1.0) -> AsyncIterator[Traced]:
    """The app tracing into memory, as build_tracer_provider sets it up by default
    (Observe starts `ratio` of new traces, the SDK follows a caller's decision)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(ALWAYS_ON))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    assert settings.database_url is not None
    app = create_app(
        replace(settings, traces_ratio=ratio), settings.database_url, tracer_provider=provider
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Traced(client, exporter)
    assert telemetry.tracer is None  # off again once the app has stopped


@pytest.fixture
async def traced(settings: Settings, engine: object) -> AsyncIterator[Traced]:
    async for found in _traced(settings):
        yield found


@pytest.fixture
async def sampled_never(settings: Settings, engine: object) -> AsyncIterator[Traced]:
    """Storefront's default sampling, with a ratio that records no new trace."""
    async for found in _traced(settings, ratio=0.0):
        yield found


@pytest.fixture
async def sampled_half(settings: Settings, engine: object) -> AsyncIterator[Traced]:
    async for found in _traced(settings, ratio=0.5):
        yield found


@pytest.fixture(params=[True, False], ids=["lean", "strawberry"])
async def either_executor(
    settings: Settings, engine: object, request: pytest.FixtureRequest
) -> AsyncIterator[Traced]:
    """Traced, with the lean executor and with Strawberry's (STOREFRONT_FAST_PATH off)."""
    on = Settings(database_url=settings.database_url, fast_path=request.param)
    async for found in _traced(on):
        yield found


@pytest.fixture
async def authors(session: AsyncSession) -> None:
    for name in ("ann", "bob", "cy"):
        user = await make_user(session, username=f"{name}_{SECRET_SEARCH}")
        for n in range(4):
            await make_post(session, user.id, title=f"{name} {n}")


def _request_span(spans: tuple[ReadableSpan, ...]) -> ReadableSpan:
    [request] = [span for span in spans if span.kind == SpanKind.SERVER]
    return request


async def test_a_nested_query_is_a_request_span_with_a_child_per_batch(
    either_executor: Traced, authors: None
) -> None:
    traced = either_executor
    response = await traced.client.post(
        "/graphql", json={"query": NESTED, "variables": {"search": SECRET_SEARCH}}
    )
    body = response.json()
    assert "errors" not in body, body
    assert len(body["data"]["users"]["edges"]) == 3
    spans = traced.exporter.get_finished_spans()
    root = _request_span(spans)

    assert root.name == "query Authors"
    assert root.parent is None
    attributes = dict(root.attributes or {})
    assert attributes["graphql.operation.name"] == "Authors"
    assert attributes["graphql.operation.type"] == "query"
    assert attributes["storefront.document.sha256"] == sha256(NESTED)
    assert attributes["storefront.viewer"] == "anonymous"
    assert attributes["storefront.request_id"] == response.headers["x-request-id"]
    assert attributes["storefront.sql_statements"] == 2
    assert attributes["http.response.status_code"] == 200

    children = [span for span in spans if span.parent is not None]
    assert all(span.parent.span_id == root.context.span_id for span in children)  # type: ignore[union-attr]
    batches = {span.name: dict(span.attributes or {}) for span in children}
    # The users with their pages of posts (a root read, the pages read ahead in it) and
    # their counts (one batch, whatever the number of users).
    assert set(batches) == {"read users_with_post_pages", "read post_counts_by_author_ids"}
    pages = batches["read users_with_post_pages"]
    assert pages["db.response.returned_rows"] == 3 + 12  # 3 + 1 (is there more?) for each
    assert pages["db.query.summary"] == "posts.users_with_pages"
    assert isinstance(pages["storefront.statement.ms"], float)
    assert "storefront.batch.keys" not in pages  # a read, not a batch
    counts = batches["read post_counts_by_author_ids"]
    assert counts["storefront.batch.keys"] == 3
    assert counts["db.response.returned_rows"] == 3
    for span in spans:
        assert SECRET_SEARCH not in json.dumps(dict(span.attributes or {}), default=str)
        assert SECRET_SEARCH not in span.name


async def _count_posts(traced: Traced, trace_id: str = TRACE_ID, flags: str = "01") -> None:
    """A small query, as part of the caller's trace `trace_id` (flags 01: sampled)."""
    response = await traced.client.post(
        "/graphql",
        json={"query": "{ posts { totalCount } }"},
        headers={"traceparent": f"00-{trace_id}-{PARENT_ID}-{flags}"},
    )
    assert "errors" not in response.json()


async def test_the_callers_traceparent_is_honoured(traced: Traced) -> None:
    await _count_posts(traced)
    spans = traced.exporter.get_finished_spans()
    root = _request_span(spans)
    assert format_trace_id(root.context.trace_id) == TRACE_ID
    assert root.parent is not None
    assert format_span_id(root.parent.span_id) == PARENT_ID
    assert root.parent.is_remote
    assert root.name == "query"  # an anonymous operation
    assert all(format_trace_id(span.context.trace_id) == TRACE_ID for span in spans)
    assert len(spans) > 1  # the request and its reads


async def test_a_mutations_transaction_is_a_span(traced: Traced) -> None:
    sign_up = """mutation { signUp(input: {username: "tracy", email: "tracy@example.com",
      password: "a long enough password"}) { token userErrors { code } } }"""
    body = (await traced.client.post("/graphql", json={"query": sign_up})).json()
    assert body["data"]["signUp"]["token"], body
    spans = traced.exporter.get_finished_spans()
    root = _request_span(spans)
    assert root.name == "mutation"
    transactions = [span for span in spans if span.name == "transaction"]
    for transaction in transactions:
        assert transaction.parent is not None
        assert transaction.parent.span_id == root.context.span_id
    outcomes = [(t.attributes or {})["storefront.transaction.outcome"] for t in transactions]
    assert outcomes[-1] == "commit", outcomes  # the sign-up's insert
    assert "tracy@example.com" not in json.dumps(
        [dict(span.attributes or {}) for span in spans], default=str
    )


async def test_off_no_span_is_made(client: httpx.AsyncClient) -> None:
    assert telemetry.tracer is None
    response = await client.post("/graphql", json={"query": "{ posts { totalCount } }"})
    assert response.status_code == 200
    assert telemetry.tracer is None


async def test_an_unsampled_request_makes_no_span_and_logs_no_trace_id(
    sampled_never: Traced, authors: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="storefront.access")
    caplog.handler.setFormatter(logs.JsonFormatter())
    response = await sampled_never.client.post(
        "/graphql", json={"query": NESTED, "variables": {"search": SECRET_SEARCH}}
    )
    assert len(response.json()["data"]["users"]["edges"]) == 3
    # Neither the request nor its three reads: nothing is recorded, nothing exported.
    assert sampled_never.exporter.get_finished_spans() == ()
    [line] = [json.loads(text) for text in caplog.text.splitlines() if "storefront.access" in text]
    assert line["status"] == 200
    assert line["request_id"] == response.headers["x-request-id"]
    assert "trace_id" not in line  # no id of a trace nobody can find


async def test_a_callers_sampled_trace_is_recorded_whatever_the_ratio(
    sampled_never: Traced,
) -> None:
    await _count_posts(sampled_never)
    spans = sampled_never.exporter.get_finished_spans()
    assert len(spans) > 1  # the request and its reads
    assert {format_trace_id(span.context.trace_id) for span in spans} == {TRACE_ID}
    # The caller did not sample this one: neither do we.
    await _count_posts(sampled_never, "5" * 32, flags="00")
    assert len(sampled_never.exporter.get_finished_spans()) == len(spans)


@pytest.mark.parametrize("traceparent", ["garbage", f"00-{'0' * 32}-{PARENT_ID}-01", ""])
async def test_a_malformed_traceparent_is_a_new_trace_sampled_by_ratio(
    sampled_never: Traced, traceparent: str
) -> None:
    """A client cannot have itself traced (at 1-2 million instructions a request) by
    sending a traceparent that names no trace."""
    response = await sampled_never.client.post(
        "/graphql", json={"query": "{ posts { totalCount } }"}, headers={"traceparent": traceparent}
    )
    assert "errors" not in response.json()
    assert sampled_never.exporter.get_finished_spans() == ()


async def test_the_ratio_is_the_share_of_new_traces_recorded(sampled_half: Traced) -> None:
    for _ in range(200):
        assert (await sampled_half.client.post("/graphql", json=TYPENAME)).status_code == 200
    recorded = [s for s in sampled_half.exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
    # Binomial(200, 0.5): outside 60-140 about once in 10^8 runs.
    assert 60 <= len(recorded) <= 140, len(recorded)


def test_by_default_a_share_of_new_traces_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    ratio = Settings.from_env({"OTEL_TRACES_EXPORTER": "console"}).traces_ratio
    assert ratio == DEFAULT_TRACES_RATIO
    provider = build_tracer_provider("console", ratio)
    # Observe picks the new traces; the SDK records those and follows a caller's choice.
    assert provider.sampler.get_description().startswith("ParentBased{root:AlwaysOnSampler")
    # OTEL_TRACES_SAMPLER set: the SDK's own reading of it, for every request.
    assert Settings.from_env({"OTEL_TRACES_SAMPLER": "always_on"}).traces_ratio is None
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    assert build_tracer_provider("console", None).sampler.get_description() == "AlwaysOffSampler"
