"""db/sign_ins.py: verified tokens cached per process, and everything that drops them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts import Viewer, revoke_token, token_digest
from db.models import auth_tokens, users
from db.notify import AUTH, make_listener
from db.read_pool import ReadPool
from db.sign_ins import SignIns, auth_subject
from db.statement_counter import StatementLog, counting
from tests.factories import make_token, make_user


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _trusted() -> bool:
    return True


async def _viewer(
    sign_ins: SignIns, pool: ReadPool, token: str
) -> tuple[Viewer | None, StatementLog]:
    with counting() as log:
        viewer = await sign_ins.viewer(pool, token)
    return viewer, log


async def _token_id(session: AsyncSession, token: str) -> int:
    stmt = select(auth_tokens.c.id).where(auth_tokens.c.token_hash == token_digest(token))
    return int((await session.execute(stmt)).scalar_one())


async def test_a_token_is_looked_up_once_then_served_from_the_cache(
    session: AsyncSession, read_pool: ReadPool
) -> None:
    user = await make_user(session, is_admin=True)
    token = await make_token(session, user.id)
    sign_ins = SignIns(trusted=_trusted)

    first, cold = await _viewer(sign_ins, read_pool, token)
    second, warm = await _viewer(sign_ins, read_pool, token)

    assert first == second == Viewer(user.id, True, await _token_id(session, token))
    assert (cold.count, warm.count) == (1, 0)
    assert token not in str(sign_ins._entries)  # keyed by digest, never the token


async def test_an_unknown_token_is_never_cached(session: AsyncSession, read_pool: ReadPool) -> None:
    sign_ins = SignIns(trusted=_trusted)
    for _ in range(2):
        viewer, log = await _viewer(sign_ins, read_pool, "no-such-token")
        assert viewer is None
        assert log.count == 1
    assert len(sign_ins) == 0


async def test_without_a_listener_the_cache_is_not_trusted(
    session: AsyncSession, read_pool: ReadPool
) -> None:
    user = await make_user(session)
    token = await make_token(session, user.id)
    listening = [True]
    sign_ins = SignIns(trusted=lambda: listening[0])
    await sign_ins.viewer(read_pool, token)

    listening[0] = False
    _, log = await _viewer(sign_ins, read_pool, token)
    assert log.count == 1
    # Revoked meanwhile, unheard: the lookup, not the cache, answers.
    await revoke_token(session, await _token_id(session, token))
    await session.commit()
    assert (await _viewer(sign_ins, read_pool, token))[0] is None

    default = SignIns()  # with no Listener to trust, nothing is kept
    await default.viewer(read_pool, await make_token(session, user.id))
    assert len(default) == 0


@pytest.mark.parametrize("by", ["token", "user", "gap", "unknown"])
async def test_an_invalidation_drops_what_it_names(
    session: AsyncSession, read_pool: ReadPool, by: str
) -> None:
    ann = await make_user(session)
    ben = await make_user(session)
    ann_tokens = [await make_token(session, ann.id) for _ in range(2)]
    ben_token = await make_token(session, ben.id)
    sign_ins = SignIns(trusted=_trusted)
    for token in (*ann_tokens, ben_token):
        await sign_ins.viewer(read_pool, token)
    assert len(sign_ins) == 3

    payload = {
        "token": str(await _token_id(session, ann_tokens[0])),
        "user": f"user:{ann.id}",
        "gap": None,
        "unknown": "something new",
    }[by]
    sign_ins.invalidate(payload)

    looked_up = [(await _viewer(sign_ins, read_pool, t))[1].count for t in (*ann_tokens, ben_token)]
    assert (
        looked_up
        == {
            "token": [1, 0, 0],
            "user": [1, 1, 0],
            "gap": [1, 1, 1],
            "unknown": [1, 1, 1],
        }[by]
    )


def test_auth_payloads() -> None:
    assert auth_subject("42") == ("token", 42)
    assert auth_subject("user:7") == ("user", 7)
    for other in ("", "user:", "user:x", "-1", "token:3"):
        assert auth_subject(other) is None


async def test_entries_live_at_most_the_ttl_and_never_past_the_token(
    session: AsyncSession, read_pool: ReadPool
) -> None:
    user = await make_user(session)
    long_lived = await make_token(session, user.id)
    short_lived = await make_token(session, user.id)
    await session.execute(
        update(auth_tokens)
        .where(auth_tokens.c.token_hash == token_digest(short_lived))
        .values(expires_at=text("now() + interval '5 seconds'"))
    )
    await session.commit()
    clock = Clock()
    sign_ins = SignIns(ttl_s=60, trusted=_trusted, clock=clock)
    for token in (long_lived, short_lived):
        await sign_ins.viewer(read_pool, token)

    clock.now += 6  # past the short token's expiry, within the TTL
    assert [
        (await _viewer(sign_ins, read_pool, t))[1].count for t in (long_lived, short_lived)
    ] == [
        0,
        1,
    ]
    clock.now += 55  # past the TTL
    assert (await _viewer(sign_ins, read_pool, long_lived))[1].count == 1


async def test_the_cache_keeps_the_most_recently_used(
    session: AsyncSession, read_pool: ReadPool
) -> None:
    user = await make_user(session)
    tokens = [await make_token(session, user.id) for _ in range(3)]
    sign_ins = SignIns(size=2, trusted=_trusted)
    await sign_ins.viewer(read_pool, tokens[0])
    await sign_ins.viewer(read_pool, tokens[1])
    await sign_ins.viewer(read_pool, tokens[0])  # used again: tokens[1] is now the oldest
    await sign_ins.viewer(read_pool, tokens[2])

    assert len(sign_ins) == 2
    counts = [(await _viewer(sign_ins, read_pool, t))[1].count for t in (tokens[0], tokens[2])]
    assert counts == [0, 0]
    assert (await _viewer(sign_ins, read_pool, tokens[1]))[1].count == 1


async def test_a_lookup_overtaken_by_an_invalidation_is_not_cached(
    session: AsyncSession, read_pool: ReadPool
) -> None:
    user = await make_user(session)
    token = await make_token(session, user.id)
    sign_ins = SignIns(trusted=_trusted)
    # The invalidation arrives while the lookup is in flight: what the lookup read
    # may predate the change, so it must not be kept.
    lookup = asyncio.create_task(sign_ins.viewer(read_pool, token))
    await asyncio.sleep(0)
    sign_ins.invalidate(f"user:{user.id}")
    assert await lookup is not None
    assert len(sign_ins) == 0


@pytest.fixture
async def heard(database_url: str) -> AsyncIterator[asyncio.Queue[str | None]]:
    """What the AUTH channel carries, as another instance hears it."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    listener = make_listener(database_url)
    listener.on_invalidate(AUTH, queue.put_nowait)
    await listener.start(wait_s=5)
    assert listener.listening
    yield queue
    await listener.stop()


async def test_every_change_that_ends_a_sign_in_is_notified_at_commit(
    session: AsyncSession, heard: asyncio.Queue[str | None]
) -> None:
    user = await make_user(session)
    token = await make_token(session, user.id)
    token_id = await _token_id(session, token)

    async def after(sql: str) -> str | None:
        await session.execute(text(sql))
        await asyncio.sleep(0.1)
        assert heard.empty(), "heard before the commit"
        await session.commit()
        return await asyncio.wait_for(heard.get(), 1.0)

    assert (
        await after(f"UPDATE users SET is_admin = true WHERE id = {user.id}") == f"user:{user.id}"
    )
    assert await after(f"UPDATE users SET is_active = false WHERE id = {user.id}") == (
        f"user:{user.id}"
    )
    assert await after(f"UPDATE auth_tokens SET revoked_at = now() WHERE id = {token_id}") == str(
        token_id
    )
    assert await after(f"DELETE FROM auth_tokens WHERE id = {token_id}") == str(token_id)
    # A change that ends nothing tells nobody.
    await session.execute(update(users).where(users.c.id == user.id).values(full_name="Ann"))
    await session.commit()
    await session.execute(text(f"DELETE FROM users WHERE id = {user.id}"))
    await session.commit()
    assert await asyncio.wait_for(heard.get(), 1.0) == f"user:{user.id}"
    # A rolled-back change tells nobody either.
    other = await make_user(session)
    await session.execute(text(f"UPDATE users SET is_admin = true WHERE id = {other.id}"))
    await session.rollback()
    await asyncio.sleep(0.2)
    assert heard.empty()
