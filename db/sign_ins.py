"""The process's cache of verified bearer tokens: a signed-in request pays no statement
for its token once its token has been looked up.

Revocation stays exact across instances because the cache is only trusted while the
process's Listener listens on the AUTH channel (db/notify.py), where triggers (revision
c4a7e1f20b86) NOTIFY, inside the writing transaction, every change that could make an
entry wrong: a token revoked, expired early or deleted (its id), a user's `is_admin` or
`is_active` changed or the user deleted (`user:<id>`). After a gap in listening the
whole cache is dropped. An entry lives at most `ttl_s`, and never past its token's
expiry.

Entries are keyed by the token's SHA-256 (`token_digest`), never by the token itself.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from db.accounts import SignIn, Viewer, sign_in_by_digest, token_digest
from db.engine import read
from db.read_pool import ReadPool, Share

# Tokens kept per process (about 300 bytes each), and for how long at most: a TTL that
# bounds how long an entry could outlive a change if a NOTIFY were somehow missed
# without the Listener noticing.
TOKEN_CACHE_SIZE = 10_000
TOKEN_CACHE_SECONDS = 60

USER_PREFIX = "user:"


def auth_subject(payload: str) -> tuple[Literal["token", "user"], int] | None:
    """What an AUTH payload invalidates: ("token", id) for a token id, ("user", id) for
    `user:<id>` (every token of that user), None for anything else."""
    if payload.isdigit():
        return "token", int(payload)
    user_id = payload.removeprefix(USER_PREFIX)
    if user_id != payload and user_id.isdigit():
        return "user", int(user_id)
    return None


@dataclass(frozen=True, slots=True)
class _Entry:
    viewer: Viewer
    until: float  # on the monotonic clock


def _never() -> bool:
    return False


class SignIns:
    """Verified tokens, by digest; `viewer(pool, token)` answers from here or the database.

    `trusted()` says whether the cache may answer: the app passes its Listener's
    `listening`, and `invalidate` is that Listener's `on_invalidate` callback. Without
    a Listener (the default) nothing is ever cached."""

    def __init__(
        self,
        *,
        size: int = TOKEN_CACHE_SIZE,
        ttl_s: float = TOKEN_CACHE_SECONDS,
        trusted: Callable[[], bool] = _never,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.size = size
        self.ttl_s = ttl_s
        self._trusted = trusted
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._by_token: dict[int, str] = {}
        self._by_user: dict[int, set[str]] = {}
        # Bumped by every invalidation: a lookup that started before one must not
        # cache what it found, which may predate the change the NOTIFY announced.
        self._generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def viewer(self, pool: ReadPool | Share, token: str) -> Viewer | None:
        """The token's viewer, or None when it is invalid, expired or revoked."""
        digest = token_digest(token)
        trusted = self._trusted()
        if trusted:
            entry = self._entries.get(digest)
            if entry is not None:
                if entry.until > self._clock():
                    self._entries.move_to_end(digest)
                    return entry.viewer
                self._drop(digest)
        generation = self._generation
        found = await read(pool, sign_in_by_digest, digest)
        if found is None:
            return None
        # Trusted now as at the start: a Listener that stopped listening meanwhile
        # bumps the generation when it listens again (a gap), but not before.
        if trusted and self._trusted() and generation == self._generation:
            self._put(digest, found)
        return found.viewer

    def invalidate(self, payload: str | None) -> None:
        """The Listener's on_invalidate callback for the AUTH channel: a token id, a
        `user:<id>`, or None after a gap (drop everything)."""
        self._generation += 1
        subject = None if payload is None else auth_subject(payload)
        if subject is None:
            self.clear()  # a gap, or a payload this version does not know: be safe
        elif subject[0] == "user":
            for user_digest in tuple(self._by_user.get(subject[1], ())):
                self._drop(user_digest)
        else:
            cached = self._by_token.get(subject[1])
            if cached is not None:
                self._drop(cached)

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
        self._by_token.clear()
        self._by_user.clear()

    def _put(self, digest: str, found: SignIn) -> None:
        if self.size <= 0:
            return
        lifetime = min(self.ttl_s, found.seconds_left)
        if lifetime <= 0:
            return
        viewer = found.viewer
        self._drop(digest)
        self._entries[digest] = _Entry(viewer, self._clock() + lifetime)
        self._by_token[viewer.token_id] = digest
        self._by_user.setdefault(viewer.user_id, set()).add(digest)
        while len(self._entries) > self.size:
            self._drop(next(iter(self._entries)))

    def _drop(self, digest: str) -> None:
        entry = self._entries.pop(digest, None)
        if entry is None:
            return
        viewer = entry.viewer
        if self._by_token.get(viewer.token_id) == digest:
            del self._by_token[viewer.token_id]
        digests = self._by_user.get(viewer.user_id)
        if digests is not None:
            digests.discard(digest)
            if not digests:
                del self._by_user[viewer.user_id]
