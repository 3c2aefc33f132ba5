"""The HTTP side of a plain read: a JSON POST of just a query, its variables and name.

Such requests (nearly all of a client's reads) are answered by the lean executor
without Strawberry's view: parsing the body once with orjson and sending the bytes
directly saves a good part of a small query's CPU. Anything else, and any body
this module cannot read, goes to Strawberry as it came.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import Message, Receive, Scope, Send

PLAIN_KEYS = frozenset({"query", "variables", "operationName"})
Document = tuple[str, dict[str, Any] | None, str | None]


class BodyTooLarge(Exception):
    pass


def is_json_post(scope: Scope) -> bool:
    if scope["method"] != "POST":
        return False
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.split(b";", 1)[0].strip().lower() == b"application/json")
    return False


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body; BodyTooLarge past `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives `body` again, then whatever the client sends next."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def plain_document(body: bytes) -> Document | None:
    """(query, variables, operationName) of a plain request body; None for anything else."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(payload, dict) or not payload.keys() <= PLAIN_KEYS:
        return None
    query = payload.get("query")
    variables = payload.get("variables")
    operation = payload.get("operationName")
    if not isinstance(query, str):
        return None
    if variables is not None and not isinstance(variables, dict):
        return None
    if operation is not None and not isinstance(operation, str):
        return None
    return query, variables, operation


async def send_json(send: Send, payload: dict[str, Any], *, request_id: str) -> None:
    body = orjson.dumps(payload)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
