"""Request ids: every HTTP response, errors included, names the request it answers.

schema/observe.py's `Observe`, the outermost middleware, takes the caller's id or makes
one, keeps it in the scope's state and sends it back; here is what it reads it with.
"""

from __future__ import annotations

from random import getrandbits

from starlette.types import Scope

MAX_ID_LENGTH = 64


def request_id_of(scope: Scope) -> str:
    """The id `Observe` gave this request (a new one outside the middleware)."""
    state = scope.get("state") or {}
    request_id = state.get("request_id")
    if isinstance(request_id, str):
        return request_id
    return new_request_id()


def new_request_id() -> str:
    """16 hex digits. An id names a request in logs; it guards nothing, so it needs to be
    unique, not unguessable: the random module's generator (reseeded in every forked
    worker) makes one without the system call `secrets` costs each request."""
    return f"{getrandbits(64):016x}"


def given_request_id(value: str) -> str | None:
    """A caller's `X-Request-ID` (its header's value, as latin-1 text), trimmed, if it
    is safe to echo in a header and to write in a log line (printable ASCII)."""
    text = value.strip()[:MAX_ID_LENGTH]
    if text and all(33 <= ord(c) < 127 for c in text):
        return text
    return None
