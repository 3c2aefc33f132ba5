"""Browsers on other origins, compressed answers and compressed bodies (API.md, "Transport")."""

from __future__ import annotations

import asyncio
import gzip
import os
import zlib
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Message, Receive, Scope, Send

from app import create_app
from schema.compression import THREAD_MINIMUM_BYTES, Gzip, accepts_gzip
from settings import ConfigError, Settings

LISTED = "https://shop.example.com"
OTHER_LISTED = "http://localhost:5173"
FOREIGN = "https://evil.example.net"
# Over 1 KiB of JSON without any rows in the database.
LARGE = "{ __schema { types { name fields { name } } } }"
SMALL = "{ __typename }"


@pytest.fixture
async def cors_client(database_url: str, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database_url=database_url, cors_origins=(LISTED, OTHER_LISTED))
    app = create_app(settings, database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    }


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def vary(response: httpx.Response) -> list[str]:
    return [v.strip().lower() for v in ", ".join(response.headers.get_list("vary")).split(",")]


# --- CORS -----------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", [LISTED, OTHER_LISTED])
async def test_a_preflight_from_a_listed_origin_gets_204(
    cors_client: httpx.AsyncClient, origin: str
) -> None:
    response = await cors_client.options("/graphql", headers=preflight(origin))

    assert response.status_code == 204
    assert response.content == b""
    assert cors_headers(response) == {
        "access-control-allow-origin": origin,
        "access-control-allow-methods": "GET, POST",
        "access-control-allow-headers": "authorization, content-type, x-storefront-consistency",
        "access-control-max-age": "600",
    }
    assert "origin" in vary(response)
    assert response.headers["x-request-id"]


async def test_a_preflight_names_only_get_and_post_whatever_is_asked(
    cors_client: httpx.AsyncClient,
) -> None:
    # The browser compares: it refuses the PUT itself.
    response = await cors_client.options("/graphql", headers=preflight(LISTED, "PUT"))
    assert response.status_code == 204
    assert response.headers["access-control-allow-methods"] == "GET, POST"


async def test_a_request_from_a_listed_origin_may_read_the_answer_and_its_id(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.post(
        "/graphql", json={"query": SMALL}, headers={"Origin": LISTED, "X-Request-ID": "abc-1"}
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}
    assert cors_headers(response) == {
        "access-control-allow-origin": LISTED,
        "access-control-expose-headers": "x-request-id, x-storefront-consistency",
    }
    assert "origin" in vary(response)
    assert response.headers["x-request-id"] == "abc-1"


async def test_a_refused_request_from_a_listed_origin_is_readable_too(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.post(
        "/graphql", content=b"[]", headers={"Origin": LISTED, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["access-control-allow-origin"] == LISTED


async def test_a_foreign_origin_gets_no_cors_headers(cors_client: httpx.AsyncClient) -> None:
    refused = await cors_client.options("/graphql", headers=preflight(FOREIGN))
    actual = await cors_client.post("/graphql", json={"query": SMALL}, headers={"Origin": FOREIGN})

    # The preflight goes on to the view, as if CORS were off: OPTIONS is not served.
    assert refused.status_code == 405
    assert cors_headers(refused) == {}
    assert refused.headers["x-request-id"]
    assert actual.status_code == 200
    assert actual.json() == {"data": {"__typename": "Query"}}
    assert cors_headers(actual) == {}
    # Still marked as depending on Origin, so no cache hands it to a listed origin.
    assert "origin" in vary(actual)


@pytest.mark.parametrize(
    "origin",
    [
        LISTED + "/",
        LISTED.upper(),  # browsers send the origin in lower case
        "https://shop.example.com:8443",
        "http://shop.example.com",
        "null",
    ],
)
async def test_an_origin_matches_only_as_browsers_send_it(
    cors_client: httpx.AsyncClient, origin: str
) -> None:
    response = await cors_client.options("/graphql", headers=preflight(origin))
    assert cors_headers(response) == {}


async def test_without_the_setting_no_origin_gets_cors_headers(client: httpx.AsyncClient) -> None:
    refused = await client.options("/graphql", headers=preflight(LISTED))
    actual = await client.post("/graphql", json={"query": SMALL}, headers={"Origin": LISTED})

    assert refused.status_code == 405
    assert cors_headers(refused) == {}
    assert cors_headers(actual) == {}


def test_the_origins_setting_is_read_as_browsers_send_origins() -> None:
    settings = Settings.from_env(
        {
            "STOREFRONT_CORS_ORIGINS": " HTTPS://Shop.Example.com, http://localhost:5173,"
            "https://shop.example.com:443, http://[::1]:3000 ,"
        }
    )
    assert settings.cors_origins == (LISTED, OTHER_LISTED, "http://[::1]:3000")
    assert Settings.from_env({}).cors_origins == ()
    assert Settings.from_env({"STOREFRONT_CORS_ORIGINS": ""}).cors_origins == ()


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("shop.example.com", "the scheme must be http or https"),
        ("https://shop.example.com/", "a trailing / is a path"),
        ("https://shop.example.com/app", "has a path"),
        ("*", "'*' is not supported"),
        ("ftp://shop.example.com", "the scheme must be http or https"),
        ("https://user@shop.example.com", "user name"),
        ("https://shop.example.com:99999", "port"),
        ("https://shop example.com", "space"),
        ("https://", "no host"),
    ],
)
def test_a_malformed_origin_is_a_clear_configuration_error(raw: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"STOREFRONT_CORS_ORIGINS": f"{LISTED},{raw}"})
    message = str(caught.value)
    assert message.startswith("STOREFRONT_CORS_ORIGINS: ")
    assert repr(raw) in message
    assert why in message
    assert "scheme://host" in message


# --- compressed answers ---------------------------------------------------------------------


async def test_a_large_answer_is_gzipped_when_the_request_accepts_gzip(
    client: httpx.AsyncClient,
) -> None:
    plain = await client.post(
        "/graphql", json={"query": LARGE}, headers={"Accept-Encoding": "identity"}
    )
    async with client.stream(
        "POST", "/graphql", json={"query": LARGE}, headers={"Accept-Encoding": "gzip"}
    ) as zipped:
        raw = b"".join([chunk async for chunk in zipped.aiter_raw()])

    assert len(plain.content) > 1024
    assert zipped.status_code == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) == len(raw) < len(plain.content)
    assert gzip.decompress(raw) == plain.content
    assert "accept-encoding" in vary(zipped)
    assert zipped.headers["x-request-id"]


@pytest.mark.parametrize("accept", [None, "identity", "gzip;q=0", "br", "*;q=0", "x-gzip;q=0"])
async def test_a_large_answer_is_sent_as_it_is_unless_gzip_is_accepted(
    client: httpx.AsyncClient, accept: str | None
) -> None:
    # httpx sends its own Accept-Encoding unless told otherwise; None removes it.
    request = client.build_request("POST", "/graphql", json={"query": LARGE})
    if accept is None:
        del request.headers["accept-encoding"]
    else:
        request.headers["accept-encoding"] = accept
    response = await client.send(request)

    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert int(response.headers["content-length"]) == len(response.content) > 1024
    assert "__schema" in response.json()["data"]
    # Said once: the view encodes its answers, and the app's Gzip leaves them be.
    assert vary(response).count("accept-encoding") == 1


async def test_a_small_answer_is_never_gzipped(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": SMALL}, headers={"Accept-Encoding": "gzip"}
    )
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_a_gzipped_answer_to_a_listed_origin_varies_on_both(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.post(
        "/graphql",
        json={"query": LARGE},
        headers={"Origin": LISTED, "Accept-Encoding": "gzip"},
    )
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["access-control-allow-origin"] == LISTED
    assert {"origin", "accept-encoding"} <= set(vary(response))
    assert "__schema" in response.json()["data"]


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.8, *;q=0.1", True),
        ("*", True),
        ("GZIP", True),
        ("identity", False),
        ("gzip;q=0", False),
        ("gzip; q=0.0", False),
        ("*;q=0", False),
        ("*, gzip;q=0", False),
        ("deflate, br", False),
        ("gzip;q=nonsense", False),
    ],
)
def test_accept_encoding_weights(header: str, accepted: bool) -> None:
    assert accepts_gzip([(b"accept-encoding", header.encode())]) is accepted
    assert accepts_gzip([]) is False


async def _through_gzip(messages: list[Message], accept: bytes = b"gzip") -> list[Message]:
    """What `Gzip` sends on for an app that sends `messages`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in messages:
            await send(message)

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "GET", "headers": [(b"accept-encoding", accept)]}
    await Gzip(app, minimum_size=1024, level=1)(scope, receive, send)
    return sent


def _start(length: int) -> Message:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % length)]
    return {"type": "http.response.start", "status": 200, "headers": headers}


async def test_a_huge_answer_is_compressed_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[object] = []
    original = asyncio.to_thread

    async def to_thread(fn: Callable[..., bytes], /, *args: object) -> bytes:
        threads.append(fn)
        return await original(fn, *args)

    monkeypatch.setattr(asyncio, "to_thread", to_thread)
    body = b'{"data": "' + b"0123456789abcdef" * (THREAD_MINIMUM_BYTES // 8) + b'"}'
    start, message = await _through_gzip([_start(len(body)), _body(body)])

    assert len(threads) == 1

    headers = dict(start["headers"])
    assert headers[b"content-encoding"] == b"gzip"
    assert int(headers[b"content-length"]) == len(message["body"]) < len(body)
    assert gzip.decompress(message["body"]) == body


async def test_a_streamed_answer_passes_as_it_is() -> None:
    chunk = b"x" * 2048
    messages = [_start(2 * len(chunk)), _body(chunk, more=True), _body(chunk)]
    assert await _through_gzip(messages) == messages


async def test_an_answer_gzip_would_not_shrink_is_sent_as_it_is() -> None:
    body = os.urandom(4096)
    start, message = await _through_gzip([_start(len(body)), _body(body)])
    assert b"content-encoding" not in dict(start["headers"])
    assert message["body"] == body


@pytest.mark.parametrize(
    "chosen", [(b"content-encoding", b"br"), (b"vary", b"Origin, Accept-Encoding")]
)
async def test_an_answer_whose_encoding_was_chosen_passes_as_it_is(
    chosen: tuple[bytes, bytes],
) -> None:
    body = b'{"data": "' + b"x" * 4096 + b'"}'
    start = _start(len(body))
    start["headers"].append(chosen)
    assert await _through_gzip([start, _body(body)]) == [start, _body(body)]


def _body(body: bytes, *, more: bool = False) -> Message:
    return {"type": "http.response.body", "body": body, "more_body": more}


# --- compressed request bodies --------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "GZIP"])
async def test_a_compressed_body_is_refused_with_415(
    client: httpx.AsyncClient, encoding: str
) -> None:
    body = gzip.compress(b'{"query": "{ __typename }"}')
    response = await client.post(
        "/graphql",
        content=body,
        headers={"Content-Type": "application/json", "Content-Encoding": encoding},
    )
    assert response.status_code == 415
    message = response.json()["errors"][0]["message"]
    assert f"Content-Encoding {encoding.lower()!r} is not supported" in message


async def test_a_gzip_bomb_is_refused_unread(client: httpx.AsyncClient) -> None:
    # 64 MiB of zeros in about 64 KB: under the body limit, so only its encoding refuses it.
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = b"".join(compressor.compress(bytes(1 << 20)) for _ in range(64)) + compressor.flush()
    assert len(bomb) < 100 * 1024

    refused = await client.post(
        "/graphql",
        content=bomb,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    # Without the header the bytes are not decoded either: they are simply not JSON.
    unlabelled = await client.post(
        "/graphql", content=bomb, headers={"Content-Type": "application/json"}
    )

    assert refused.status_code == 415
    assert unlabelled.status_code == 400
