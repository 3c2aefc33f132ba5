"""Query limits (API.md, "Limits"): each just under and just over, and each dodge refused."""

from __future__ import annotations

import gc
import time
import tracemalloc
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.testclient import TestClient

from app import create_app
from schema import build_schema
from schema import documents as documents_module
from schema.documents import Documents
from schema.executor.compat import graphql_schema
from schema.limits import Limits
from settings import Settings

SCHEMA = build_schema()
CHAIN = ["viewer", "posts", "edges", "node", "author"] + ["posts", "edges", "node", "author"] * 3


def _deep(depth: int) -> str:
    """A document `depth` fields deep (the last one a leaf)."""
    fields = CHAIN[: depth - 1]
    return "{ " + " { ".join(fields) + " { id" + " }" * len(fields) + " }"


def _nested(levels: int, first: int = 100) -> str:
    """posts(first) > author > posts(first) > ... `levels` connections deep."""
    inner = "id"
    for _ in range(levels):
        inner = f"posts(first: {first}) {{ edges {{ node {{ author {{ {inner} }} }} }} }}"
    return "{ " + inner + " }"


# Within every other limit, but 100 posts x 10 tags x 100 posts: over the cost.
BROAD = (
    "posts(first: 100) { edges { node { tags { posts(first: 100) { edges { node { id } } } } } } }"
)


async def _post(client: httpx.AsyncClient, query: str, **extra: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _refusal(body: dict[str, Any]) -> dict[str, Any]:
    assert "data" not in body, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", error
    extensions: dict[str, Any] = error["extensions"]
    return extensions


def _ran(body: dict[str, Any]) -> None:
    codes = [e["extensions"]["code"] for e in body.get("errors", ())]
    assert "QUERY_TOO_COMPLEX" not in codes, body
    assert "data" in body, body


async def test_depth_just_under_and_just_over(client: httpx.AsyncClient) -> None:
    _ran(await _post(client, _deep(10)))
    refused = _refusal(await _post(client, _deep(11)))
    assert (refused["limit"], refused["measured"], refused["maximum"]) == ("depth", 11, 10)


async def test_depth_through_fragments_counts(client: httpx.AsyncClient) -> None:
    query = """{ viewer { ...A } }
    fragment A on User { posts { edges { node { ...B } } } }
    fragment B on Post { author { posts { edges { node { ...C } } } } }
    fragment C on Post { author { posts { edges { node { author { id } } } } } }"""
    refused = _refusal(await _post(client, query))
    assert refused["limit"] == "depth"
    assert refused["measured"] == 14


async def test_aliases_just_under_and_just_over(client: httpx.AsyncClient) -> None:
    def aliased(n: int) -> str:
        return "{ viewer { " + " ".join(f"a{i}: id" for i in range(n)) + " } }"

    _ran(await _post(client, aliased(30)))
    refused = _refusal(await _post(client, aliased(31)))
    assert (refused["limit"], refused["measured"]) == ("aliases", 31)


async def test_aliases_inside_a_fragment_count_at_every_spread(client: httpx.AsyncClient) -> None:
    fragment = "fragment F on User { " + " ".join(f"a{i}: id" for i in range(16)) + " }"
    _ran(await _post(client, "{ viewer { ...F } } " + fragment))
    refused = _refusal(await _post(client, "{ viewer { ...F ... on User { ...F } } } " + fragment))
    assert (refused["limit"], refused["measured"]) == ("aliases", 32)


async def test_root_fields_just_under_and_just_over(client: httpx.AsyncClient) -> None:
    def roots(n: int) -> str:
        return "{ " + " ".join(f"r{i}: __typename" for i in range(n)) + " }"

    _ran(await _post(client, roots(20)))
    refused = _refusal(await _post(client, roots(21)))
    assert (refused["limit"], refused["measured"]) == ("rootFields", 21)


async def test_one_sign_up_or_sign_in_per_request(client: httpx.AsyncClient) -> None:
    """Each hashes or checks a password (argon2id: tens of milliseconds of CPU): twenty
    aliased in one request took 9 s of the server's CPU."""

    def log_in(alias: str) -> str:
        return f'{alias}: logIn(input: {{login: "nobody", password: "wrong-password"}}) {{ token }}'

    answered = await _post(client, "mutation { " + log_in("a") + " }")
    assert "errors" not in answered, answered
    assert answered["data"]["a"] == {"token": None}  # a wrong password: a user error
    sign_up = 'b: signUp(input: {username: "x", email: "x@example.com", password: "p"}) { token }'
    for query in (
        "mutation { " + log_in("a") + " " + sign_up + " }",
        "mutation { ...Twice } fragment Twice on Mutation { "
        + log_in("a")
        + " "
        + log_in("c")
        + " }",
        "mutation { " + log_in("a") + " ... on Mutation { " + log_in("c") + " } }",
    ):
        refused = _refusal(await _post(client, query))
        assert (refused["limit"], refused["measured"], refused["maximum"]) == (
            "passwordChecks",
            2,
            1,
        ), query


async def test_tokens_just_under_and_just_over(client: httpx.AsyncClient) -> None:
    def tokens(n: int) -> str:
        # `{ nodes(ids: [ ... ]) { id } }` is 12 tokens; each ID one more.
        return "{ nodes(ids: [" + '"x" ' * (n - 12) + "]) { id } }"

    _ran(await _post(client, tokens(2000)))
    refused = _refusal(await _post(client, tokens(2001)))
    assert (refused["limit"], refused["measured"], refused["maximum"]) == ("tokens", 2001, 2000)


def test_cost_just_under_and_just_over() -> None:
    query = _nested(2)
    document = SCHEMA.documents.get(query)
    cost = SCHEMA.documents.model.cost(
        document.document.definitions[0],  # type: ignore[union-attr,arg-type]
        document.document,  # type: ignore[arg-type]
        {},
    )
    # Two nested pages of 100: at least 100 x 100 rows.
    assert cost > 100 * 100
    at_limit = Documents(graphql_schema(SCHEMA), Limits(cost=cost))
    checked = at_limit.get(query)
    assert at_limit.request_error(checked, None, {}) is None
    below = Documents(graphql_schema(SCHEMA), Limits(cost=cost - 1))
    problem = below.request_error(below.get(query), None, {})
    assert problem is not None
    assert problem.extensions == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": "cost",
        "measured": cost,
        "maximum": cost - 1,
    }


async def test_page_sizes_through_variables_count(client: httpx.AsyncClient) -> None:
    query = """query($n: Int, $m: Int) { posts(first: $n) { edges { node { tags {
      posts(first: $m) { edges { node { id } } } } } } } }"""
    _ran(await _post(client, query, variables={"n": 5, "m": 5}))
    refused = _refusal(await _post(client, query, variables={"n": 100, "m": 100}))
    assert refused["limit"] == "cost"
    assert refused["measured"] > 100 * 10 * 100


async def test_a_list_under_include_true_still_counts(client: httpx.AsyncClient) -> None:
    query = "query($yes: Boolean!) { viewer @include(if: $yes) { " + BROAD + " } }"
    for yes in (True, False):
        refused = _refusal(await _post(client, query, variables={"yes": yes}))
        assert refused["limit"] == "cost"


async def test_the_hostile_nestings_are_refused_fast_without_memory(
    client: httpx.AsyncClient,
) -> None:
    three, four = _nested(3), _nested(4)
    await _post(client, three)  # warm up what every request shares
    tracemalloc.start()
    started = time.perf_counter()
    for query in (three, four) * 10:
        refused = _refusal(await _post(client, query))
        assert refused["limit"] in ("depth", "cost")
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 2.0, f"20 refusals took {elapsed:.2f} s"
    assert peak < 5 * 1024 * 1024, f"refusing allocated {peak} bytes at its peak"


async def test_the_full_introspection_query_passes(client: httpx.AsyncClient) -> None:
    body = await _post(client, get_introspection_query(descriptions=True))
    _ran(body)
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_introspection_cannot_dodge_the_limits(client: httpx.AsyncClient) -> None:
    nested = "{ __schema { types " + "{ fields { type " * 4 + "{ name }" + " } }" * 4 + " } }"
    refused = _refusal(await _post(client, nested))
    assert (refused["limit"], refused["measured"]) == ("depth", 11)
    aliased = "{ " + " ".join(f"s{i}: __schema {{ types {{ name }} }}" for i in range(21)) + " }"
    assert _refusal(await _post(client, aliased))["limit"] == "rootFields"


async def test_get_is_held_to_the_same_limits(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": "{ " + BROAD + " }"})
    assert response.status_code == 200
    assert _refusal(response.json())["limit"] == "cost"


async def test_mutation_payloads_are_held_to_the_limits(client: httpx.AsyncClient) -> None:
    query = 'mutation { logIn(input: {login: "x", password: "y"}) { user { ' + BROAD + " } } }"
    assert _refusal(await _post(client, query))["limit"] == "cost"


def test_subscriptions_are_held_to_the_limits(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> None:
    deep = "subscription { postPublished { author { " + BROAD + " } } }"
    with (
        TestClient(create_app(settings, database_url)) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": deep}})
        message = ws.receive_json()
    assert message["type"] == "error"
    assert [error["extensions"]["code"] for error in message["payload"]] == ["QUERY_TOO_COMPLEX"]


def test_a_websocket_message_over_the_body_limit_closes_with_4413(
    settings: Settings, database_url: str, engine: AsyncEngine
) -> None:
    with (
        TestClient(create_app(settings, database_url)) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json()["type"] == "connection_ack"
        padding = "#" + "x" * (100 * 1024) + "\n"
        query = padding + "subscription { postPublished { id } }"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})
        message = ws.receive()
    assert message["type"] == "websocket.close"
    assert message["code"] == 4413


@pytest.mark.parametrize(
    "limit", ["depth", "aliases", "tokens", "root_fields", "cost", "password_checks"]
)
def test_each_limit_is_a_setting(limit: str) -> None:
    names = {
        "root_fields": "STOREFRONT_MAX_ROOT_FIELDS",
        "password_checks": "STOREFRONT_MAX_PASSWORD_CHECKS",
    }
    name = names.get(limit, f"STOREFRONT_MAX_{limit.upper()}")
    settings = Settings.from_env({name: "7"})
    assert getattr(settings.limits, limit) == 7


async def test_page_sizes_from_variable_defaults_and_floats_count(
    client: httpx.AsyncClient,
) -> None:
    with_default = """query($n: Int = 100) { posts(first: $n) { edges { node { tags {
      posts(first: $n) { edges { node { id } } } } } } } }"""
    assert _refusal(await _post(client, with_default))["limit"] == "cost"
    without = with_default.replace("$n: Int = 100", "$n: Int")
    # 100.0 is the Int 100: costed as such, and never cached as a cheaper key.
    _ran(await _post(client, without, variables={"n": 5}))
    assert _refusal(await _post(client, without, variables={"n": 100.0}))["limit"] == "cost"
    assert _refusal(await _post(client, without, variables={"n": 100}))["limit"] == "cost"


def test_cost_cache_keys_hold_no_variable_text() -> None:
    documents = Documents(graphql_schema(SCHEMA), Limits())
    query = "query($s: String) { posts(filter: {search: $s}) { totalCount } }"
    checked = documents.get(query)
    for n in range(50):
        assert documents.request_error(checked, None, {"s": "x" * 1000 + str(n)}) is None
    assert len(checked.costs) == 1


async def test_a_wide_selection_is_refused_before_validation(client: httpx.AsyncClient) -> None:
    started = time.perf_counter()
    wide = "{ viewer { " + "posts { totalCount } " * 490 + "} }"
    refused = _refusal(await _post(client, wide))
    assert (refused["limit"], refused["measured"]) == ("selectionFields", 490)
    assert time.perf_counter() - started < 1.0
    _ran(await _post(client, "{ viewer { " + "id " * 100 + "} }"))
    refused = _refusal(await _post(client, "{ viewer { " + "id " * 101 + "} }"))
    assert (refused["limit"], refused["measured"]) == ("selectionFields", 101)


async def test_many_post_bodies_at_once_are_refused(client: httpx.AsyncClient) -> None:
    _ran(await _post(client, "{ posts(first: 100) { edges { node { title body } } } }"))
    nested = (
        "{ users(first: 100) { edges { node { posts(first: 100) { edges { node { body } } } } } } }"
    )
    assert _refusal(await _post(client, nested))["limit"] == "cost"


async def test_huge_counts_from_fragment_bombs_are_reported_as_a_bound(
    client: httpx.AsyncClient,
) -> None:
    fragments = " ".join(f"fragment F{i} on User {{ ...F{i + 1} ...F{i + 1} }}" for i in range(80))
    query = "{ viewer { ...F0 } } " + fragments + " fragment F80 on User { a: id }"
    refused = _refusal(await _post(client, query))
    assert refused["limit"] == "aliases"
    assert refused["measured"] == 2**53 - 1


def test_cached_documents_are_bounded_by_their_text_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """A comment or a long string is one token but any length of text: a client sending
    new documents of a few tokens and 100 KiB each must not fill memory with them."""
    monkeypatch.setattr(documents_module, "MAX_CACHED_TEXT", 500_000)
    documents = Documents(graphql_schema(SCHEMA), Limits())
    tracemalloc.start()
    for n in range(40):
        query = f"query Q{n} {{ __typename }} # " + "x" * 50_000
        assert not documents.get(query).errors
    gc.collect()  # a parsed document's tokens link to each other: freed by the collector
    kept, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # The text, the comment's token and some slack: not the 40 x 50 KB sent.
    assert kept < 3 * 500_000, f"the cache kept {kept} bytes"
