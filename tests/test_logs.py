"""Structured logs: one JSON object a line, each naming the request (and trace) it
belongs to; the access line says what the request was and what it cost."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import logs
from schema.hashing import sha256
from schema.query import Query
from tests.conftest import replace_read
from tests.processes import env, serving

POSTS = "query Feed { posts(first: 2) { edges { node { title author { username } } } } }"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def json_lines() -> Iterator[Lines]:
    """The process's logging as `serve` configures it (JSON), into a buffer; the
    lines written so far, each parsed (a line that is not JSON fails the test)."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    logs.configure("INFO", "json", buffer)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])


async def test_the_first_valid_request_id_and_traceparent_count(
    client: httpx.AsyncClient, json_lines: Lines
) -> None:
    # Repeated headers: one the server cannot use (not printable, not W3C) is passed
    # over for the next, as if it had not come.
    headers = [
        ("x-request-id", "not\tprintable"),
        ("x-request-id", "second-id"),
        ("traceparent", "00-not-a-trace"),
        ("traceparent", TRACEPARENT),
    ]
    response = await client.post("/graphql", json={"query": POSTS}, headers=headers)

    assert response.headers["x-request-id"] == "second-id"
    [access] = [line for line in json_lines() if line["logger"] == "storefront.access"]
    assert access["request_id"] == "second-id"
    assert access["trace_id"] == TRACE_ID


async def test_lines_carry_the_request_id_the_client_was_given(
    client: httpx.AsyncClient, json_lines: Lines, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("a bug")

    replace_read(monkeypatch, Query, "posts", broken)
    response = await client.post(
        "/graphql", json={"query": POSTS}, headers={"traceparent": TRACEPARENT}
    )
    request_id = response.headers["x-request-id"]
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}

    lines = json_lines()
    [masked] = [line for line in lines if line["logger"] == "storefront.errors"]
    assert masked["level"] == "ERROR"
    assert masked["request_id"] == request_id
    assert masked["trace_id"] == TRACE_ID  # the caller's, though this process traces nothing
    assert "RuntimeError: a bug" in masked["exception"]
    [access] = [line for line in lines if line["logger"] == "storefront.access"]
    assert access["request_id"] == request_id
    assert access["trace_id"] == TRACE_ID
    assert {key: access[key] for key in ("method", "path", "status")} == {
        "method": "POST",
        "path": "/graphql",
        "status": 200,
    }
    assert access["operation_name"] == "Feed"
    assert access["operation_type"] == "query"
    assert access["document_hash"] == sha256(POSTS)
    assert access["viewer"] == "anonymous"
    assert access["error_codes"] == ["INTERNAL_SERVER_ERROR"]
    assert access["sql_statements"] == 0  # the read failed before its statement
    assert access["duration_ms"] > 0
    for line in lines:
        assert line["time"].endswith("+00:00")
        assert {"time", "level", "logger", "message"} <= line.keys()


async def test_the_access_line_counts_the_sql_and_never_holds_variables(
    client: httpx.AsyncClient, json_lines: Lines
) -> None:
    secret = "ada.secret@example.com"
    query = "query Find($s: String) { users(search: $s) { edges { node { username } } } }"
    response = await client.get(
        "/graphql", params={"query": query, "variables": json.dumps({"s": secret})}
    )
    assert response.status_code == 200
    [access] = [line for line in json_lines() if line["logger"] == "storefront.access"]
    assert access["request_id"] == response.headers["x-request-id"]
    assert access["path"] == "/graphql"  # without the query string
    assert access["sql_statements"] == 1
    assert "trace_id" not in access
    assert "error_codes" not in access
    assert secret not in json.dumps(json_lines())


def test_a_terminal_gets_text_and_anything_else_json() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert isinstance(logs.formatter(None, Terminal()), logs.TextFormatter)
    assert isinstance(logs.formatter(None, io.StringIO()), logs.JsonFormatter)
    assert isinstance(logs.formatter("json", Terminal()), logs.JsonFormatter)
    record = logging.LogRecord("storefront", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    text = logs.formatter("text").format(record)
    assert text.endswith(" INFO storefront hello you")


async def test_served_every_line_is_json_uvicorns_too(own_database: str, tmp_path: Path) -> None:
    async with serving(env(DATABASE_URL=own_database), tmp_path) as served:
        await served.ready(within_s=60)
        async with httpx.AsyncClient(base_url=served.url, timeout=5) as http:
            response = await http.post("/graphql", json={"query": POSTS})
        await served.stop()
    lines = [json.loads(line) for line in served.stderr.splitlines()]
    loggers = {line["logger"] for line in lines}
    assert "uvicorn.error" in loggers  # "Started server process", "Application startup ..."
    accesses = [line for line in lines if line["logger"] == "storefront.access"]
    [feed] = [line for line in accesses if line.get("operation_name") == "Feed"]
    assert feed["request_id"] == response.headers["x-request-id"]
    assert feed["status"] == 200
    assert feed["sql_statements"] == 1
