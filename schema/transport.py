"""Reading GraphQL-over-HTTP requests and writing their responses (API.md, "Transport").

Everything a client can get wrong about the envelope (a body that is not a JSON
object, bytes that are not UTF-8, a `query` that is not a string, a body past
the size limit, a media type we do not speak) is a `BadRequest` naming the
problem, answered as a GraphQL error body with a 4xx status.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson
from starlette.datastructures import QueryParams
from starlette.types import Receive, Scope, Send

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
# Media types a request body may come in; GraphQL over HTTP requires JSON.
BODY_TYPES = frozenset({JSON, GRAPHQL_RESPONSE, "application/graphql+json"})
KEYS = frozenset({"query", "variables", "operationName", "extensions", "documentId"})


class BadRequest(Exception):
    """A request the service cannot read: `status` and a message that names the problem."""

    def __init__(
        self,
        message: str,
        status: int = 400,
        code: str = "BAD_USER_INPUT",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.headers = dict(headers or {})


class Params(NamedTuple):
    """A GraphQL request's parameters, each of the type the specification gives it (a
    tuple: made on every request, and a frozen dataclass's __init__ costs more)."""

    query: str | None = None
    variables: dict[str, Any] | None = None
    operation_name: str | None = None
    extensions: dict[str, Any] | None = None
    document_id: str | None = None


def header_map(scope: Scope) -> dict[str, str]:
    """The request's headers by name, the first of each as Starlette's `Headers.get` gives
    it; one dict per request (kept in its scope's state for every layer that reads
    them), since each lookup in `Headers` walks the whole list."""
    state = scope.setdefault("state", {})
    found: dict[str, str] | None = state.get("headers")
    if found is None:
        found = state["headers"] = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in reversed(scope["headers"])
        }
    return found


def response_media_type(headers: Mapping[str, str]) -> str:
    """The media type to answer in, from the Accept header (406 when we speak none of it)."""
    accept = headers.get("accept")
    if not accept:
        return JSON
    offered = {
        part.split(";", 1)[0].strip().lower() for part in accept.split(",") if not _refused(part)
    }
    if GRAPHQL_RESPONSE in offered:
        return GRAPHQL_RESPONSE
    if offered & {JSON, "application/*", "*/*"}:
        return JSON
    raise BadRequest(
        f"Cannot answer in any type the Accept header lists; use {GRAPHQL_RESPONSE} or {JSON}",
        status=406,
    )


def _refused(part: str) -> bool:
    """Whether an Accept entry carries q=0 (the client will not take that type)."""
    for parameter in part.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value) == 0
            except ValueError:
                return False
    return False


def check_body_type(headers: Mapping[str, str]) -> None:
    """415 unless the body is JSON, unencoded."""
    content_type = headers.get("content-type")
    if content_type is None:
        raise BadRequest(f"A POST needs the header Content-Type: {JSON}", status=415)
    if content_type.split(";", 1)[0].strip().lower() not in BODY_TYPES:
        raise BadRequest(
            f"Content-Type {content_type.split(';', 1)[0]!r} is not supported; send {JSON}",
            status=415,
        )
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        # Never decoded: a GraphQL request is small, and a decoder is a door for zip bombs.
        raise BadRequest(
            f"Content-Encoding {encoding!r} is not supported; send the body uncompressed",
            status=415,
        )


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body; 413 past `limit` bytes (read no further than that)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def too_large(limit: int) -> BadRequest:
    return BadRequest(f"The request body is larger than {limit} bytes", status=413)


def declared_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def params_from_body(body: bytes) -> Params:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = _strict_json(body)
    if not isinstance(payload, dict):
        raise BadRequest("The request body must be a JSON object")
    return request_params(payload)


def _strict_json(body: bytes) -> Any:
    """orjson refuses lone surrogates (`"\\ud800"`) that JSON itself allows; such text is
    refused later, where the value is used, as bad input."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The request body is not UTF-8") from None
    try:
        return json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError):
        raise BadRequest("The request body is not valid JSON") from None


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def params_from_query_string(scope: Scope) -> Params:
    params = QueryParams(scope.get("query_string", b"").decode("latin-1"))
    payload: dict[str, Any] = {}
    for key in KEYS:
        if key in params:
            payload[key] = params[key]
    for key in ("variables", "extensions"):
        if key in payload:
            raw = payload[key]
            try:
                payload[key] = orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                raise BadRequest(f"The `{key}` parameter is not valid JSON") from None
    return request_params(payload)


def request_params(payload: dict[str, Any]) -> Params:
    """A request's parameters from its JSON object; BadRequest naming a mistyped one."""
    query = payload.get("query")
    variables = payload.get("variables")
    operation_name = payload.get("operationName")
    extensions = payload.get("extensions")
    document_id = payload.get("documentId")
    if query is not None and not isinstance(query, str):
        raise BadRequest("`query` must be a string")
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadRequest("`operationName` must be a string")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("`variables` must be a JSON object")
    if extensions is not None and not isinstance(extensions, dict):
        raise BadRequest("`extensions` must be a JSON object")
    if document_id is not None and not isinstance(document_id, str):
        raise BadRequest("`documentId` must be a string")
    return Params(query, variables, operation_name or None, extensions, document_id)


def encode(payload: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(payload)
    except TypeError:
        # Text orjson will not write (a lone surrogate echoed back): escape it instead.
        return json.dumps(payload, ensure_ascii=True, default=str).encode()


def error_body(message: str, code: str, **extensions: Any) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}


CONTENT_TYPES = {
    JSON: b"application/json",
    GRAPHQL_RESPONSE: GRAPHQL_RESPONSE.encode() + b"; charset=utf-8",
}


class Reply:
    """A JSON response, sent as two ASGI messages (Starlette's Response does more work
    per response than a GraphQL answer needs: this is every request's last step)."""

    __slots__ = ("body", "headers", "status")

    def __init__(
        self, body: bytes, status: int, media_type: str, headers: Mapping[str, str] | None
    ) -> None:
        self.body = body
        self.status = status
        self.headers = [
            (b"content-type", CONTENT_TYPES[media_type]),
            (b"content-length", str(len(body)).encode()),
        ]
        for name, value in (headers or {}).items():
            self.headers.append((name.lower().encode(), value.encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


def json_response(
    payload: dict[str, Any],
    *,
    status: int = 200,
    media_type: str = JSON,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    return Reply(encode(payload), status, media_type, headers)
