"""logIn throttling (API.md, Limits: signing in): per login name and per client address,
shared by every instance, decided before any password is verified."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app import create_app
from db import accounts
from db.throttle import LoginLimits
from schema.client_address import TrustedProxies
from settings import Settings
from tests.factories import make_user

LOG_IN = """
mutation LogIn($input: LogInInput!) {
  logIn(input: $input) { token user { username } userErrors { field code message } }
}
"""
PASSWORD = "hopper1906"
WRONG = "hopper1907"

Serve = Callable[..., contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
async def grace(session: AsyncSession) -> str:
    # argon2 verifies with the parameters in the hash: cheap ones keep these tests quick.
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    await make_user(session, username="grace", password_hash=cheap)
    return "grace"


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The passwords argon2 was asked to verify, in order (the real verification still runs)."""
    seen: list[str] = []
    real = accounts.verify_password

    async def counting(password_hash: str | None, password: str) -> bool:
        seen.append(password)
        return await real(password_hash, password)

    monkeypatch.setattr(accounts, "verify_password", counting)
    return seen


@pytest.fixture
def serve(settings: Settings, database_url: str, engine: AsyncEngine) -> Serve:
    """An instance of the app (its own lifespan and pools) with changed settings, and a
    client of it connecting from `peer`."""

    @contextlib.asynccontextmanager
    async def serving(
        *, peer: str = "127.0.0.1", **changes: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(dataclasses.replace(settings, **changes), database_url)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=(peer, 123))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield client

    return serving


async def log_in(
    client: httpx.AsyncClient,
    login: str,
    password: str = WRONG,
    *,
    forwarded_for: str | None = None,
) -> dict[str, Any]:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    response = await client.post(
        "/graphql",
        json={"query": LOG_IN, "variables": {"input": {"login": login, "password": password}}},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def refused(body: dict[str, Any]) -> bool:
    """The attempt was rate-limited (and nothing else happened)."""
    if "errors" not in body:
        assert body["data"]["logIn"]["userErrors"], body
        return False
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED", body
    return True


def wrong_password(body: dict[str, Any]) -> bool:
    if "errors" in body:
        return False
    errors = body["data"]["logIn"]["userErrors"]
    return [error["field"] for error in errors] == [["input", "password"]]


async def test_the_eleventh_failure_is_rate_limited_even_with_the_right_password(
    client: httpx.AsyncClient, grace: str, verifications: list[str]
) -> None:
    # One login name however it is written, as the user lookup reads it.
    for login in ["grace", "GRACE", " Grace "] * 3 + ["grace"]:
        assert wrong_password(await log_in(client, login))
    assert len(verifications) == 10

    eleventh = await log_in(client, "grace")
    right_password = await log_in(client, "Grace", PASSWORD)

    for body in (eleventh, right_password):
        assert refused(body)
        retry_after = body["errors"][0]["extensions"]["retryAfter"]
        assert isinstance(retry_after, int)
        assert 0 < retry_after <= 900
    assert body["errors"][0]["message"] == "Too many failed sign-in attempts: try again later"
    # Throttled attempts spend no argon2 time.
    assert len(verifications) == 10


async def test_a_login_that_names_nobody_is_throttled_exactly_like_one_that_does(
    client: httpx.AsyncClient, grace: str, verifications: list[str]
) -> None:
    for _ in range(10):
        assert await log_in(client, "grace") == await log_in(client, "nobody")

    known, unknown = await log_in(client, "grace"), await log_in(client, "nobody")

    assert refused(known)
    assert refused(unknown)
    for body in (known, unknown):
        body["errors"][0]["extensions"]["retryAfter"] = "seconds"
    assert known == unknown
    assert len(verifications) == 20


async def test_a_success_is_not_a_failure_and_leaves_earlier_failures_counted(
    client: httpx.AsyncClient, grace: str
) -> None:
    for _ in range(9):
        assert wrong_password(await log_in(client, "grace"))

    signed_in = await log_in(client, "grace", PASSWORD)
    assert signed_in["data"]["logIn"]["user"] == {"username": "grace"}
    # The success took its own place back: one failure is left, then the limit.
    assert wrong_password(await log_in(client, "grace"))
    assert refused(await log_in(client, "grace", PASSWORD))


async def test_attempts_are_allowed_again_once_failures_leave_the_window(
    client: httpx.AsyncClient, grace: str, engine: AsyncEngine
) -> None:
    for _ in range(10):
        await log_in(client, "grace")
    assert refused(await log_in(client, "grace"))

    # The oldest failure 14 min 55 s ago: it leaves the window within 5 seconds.
    await _age_attempts(engine, timedelta(minutes=14, seconds=55), oldest_only=True)
    body = await log_in(client, "grace")
    assert refused(body)
    assert 1 <= body["errors"][0]["extensions"]["retryAfter"] <= 5

    # Every failure older than the window: nothing counts any more.
    await _age_attempts(engine, timedelta(minutes=15))
    signed_in = await log_in(client, "grace", PASSWORD)
    assert signed_in["data"]["logIn"]["user"] == {"username": "grace"}


async def test_the_window_is_a_setting(serve: Serve, grace: str) -> None:
    limits = LoginLimits(max_failures_per_account=1, window_seconds=2)
    async with serve(login_limits=limits) as client:
        assert wrong_password(await log_in(client, "grace"))
        body = await log_in(client, "grace", PASSWORD)
        assert refused(body)
        retry_after = body["errors"][0]["extensions"]["retryAfter"]
        assert retry_after in (1, 2)

        await asyncio.sleep(retry_after + 0.1)
        signed_in = await log_in(client, "grace", PASSWORD)
        assert signed_in["data"]["logIn"]["user"] == {"username": "grace"}


async def test_thirty_concurrent_attempts_on_two_instances_verify_at_most_ten(
    serve: Serve, grace: str, verifications: list[str]
) -> None:
    async with serve() as one, serve() as two:
        bodies = await asyncio.gather(*(log_in(one if n % 2 else two, "grace") for n in range(30)))

    assert len(verifications) == 10
    assert sum(refused(body) for body in bodies) == 20
    assert sum(wrong_password(body) for body in bodies) == 10


async def test_two_instances_share_the_count(serve: Serve, grace: str) -> None:
    async with serve() as one, serve() as two:
        for n in range(10):
            assert wrong_password(await log_in(one if n % 2 else two, "grace"))

        assert refused(await log_in(one, "grace", PASSWORD))
        assert refused(await log_in(two, "grace", PASSWORD))


async def test_one_client_address_is_limited_across_logins(
    serve: Serve, engine: AsyncEngine, verifications: list[str]
) -> None:
    limits = LoginLimits(max_failures_per_address=3)
    async with (
        serve(peer="203.0.113.9", login_limits=limits) as attacker,
        serve(peer="198.51.100.7", login_limits=limits) as bystander,
    ):
        for n in range(3):
            assert wrong_password(await log_in(attacker, f"user{n}"))

        assert refused(await log_in(attacker, "someone_else"))
        # X-Forwarded-For from a peer nobody trusts is ignored: no escape by inventing one.
        for n in range(5):
            assert refused(await log_in(attacker, "user9", forwarded_for=f"192.0.2.{n}"))
        assert wrong_password(await log_in(bystander, "someone_else"))
    assert len(verifications) == 4


async def test_forwarded_for_is_believed_from_a_trusted_proxy(
    serve: Serve, engine: AsyncEngine
) -> None:
    changes: dict[str, Any] = {
        "login_limits": LoginLimits(max_failures_per_address=3),
        "forwarded_allow_ips": TrustedProxies.parse("10.0.0.0/8, 2001:db8::1"),
    }
    async with serve(peer="10.0.0.5", **changes) as proxy:
        for n in range(3):
            assert wrong_password(await log_in(proxy, f"user{n}", forwarded_for="203.0.113.1"))

        assert refused(await log_in(proxy, "user9", forwarded_for="203.0.113.1"))
        # What the client sent before its address does not change which address it is,
        # and neither does a second trusted proxy on the way.
        assert refused(await log_in(proxy, "user9", forwarded_for="192.0.2.1, 203.0.113.1"))
        assert refused(await log_in(proxy, "user9", forwarded_for="203.0.113.1, 10.9.9.9"))
        # Another client behind the same proxy has its own count.
        assert wrong_password(await log_in(proxy, "user9", forwarded_for="203.0.113.2"))


async def _age_attempts(engine: AsyncEngine, by: timedelta, *, oldest_only: bool = False) -> None:
    """Move counted attempts into the past, as if `by` had passed since they were made."""
    aged = "a - CAST(:by AS interval)"
    if oldest_only:
        aged = f"CASE WHEN a = (SELECT min(b) FROM unnest(attempts) AS b) THEN {aged} ELSE a END"
    async with engine.begin() as conn:
        await conn.execute(
            text(
                f"UPDATE login_throttle SET attempts = ARRAY(SELECT {aged} FROM unnest(attempts) a)"
            ),
            {"by": by},
        )


async def test_concurrent_successes_and_failures_from_one_address_all_finish(
    serve: Serve, grace: str
) -> None:
    # Successes take their attempt back while others reserve theirs: no deadlock.
    async with serve(login_limits=LoginLimits(max_failures_per_account=100)) as client:
        bodies = await asyncio.gather(
            *(log_in(client, "grace", PASSWORD if n % 2 else WRONG) for n in range(40))
        )

    assert sum(wrong_password(body) for body in bodies) == 20
    assert sum(body["data"]["logIn"]["token"] is not None for body in bodies) == 20


SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) { token user { username } userErrors { field code } }
}
"""


async def sign_up(
    client: httpx.AsyncClient, username: str, *, forwarded_for: str | None = None
) -> dict[str, Any]:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    variables = {
        "input": {"username": username, "email": f"{username}@example.com", "password": "pw" * 5}
    }
    response = await client.post(
        "/graphql", json={"query": SIGN_UP, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_sign_ups_from_one_address_are_limited_whatever_their_outcome(
    serve: Serve, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []
    real = accounts.hash_password

    async def counting(password: str) -> str:
        hashed.append(password)
        return await real(password)

    monkeypatch.setattr(accounts, "hash_password", counting)
    await make_user(session, username="taken")
    limits = LoginLimits(max_sign_ups_per_address=3)
    async with (
        serve(peer="203.0.113.9", login_limits=limits) as spammer,
        serve(peer="2001:db8:1:2::1", login_limits=limits) as neighbour,
        serve(peer="198.51.100.7", login_limits=limits) as bystander,
    ):
        assert (await sign_up(spammer, "first"))["data"]["signUp"]["token"]
        # A name that is taken counts too: each answer tells whether one is.
        taken = await sign_up(spammer, "taken")
        assert {e["code"] for e in taken["data"]["signUp"]["userErrors"]} == {"TAKEN"}
        # Input refused before anything is looked up does not.
        assert (await sign_up(spammer, "x"))["data"]["signUp"]["userErrors"]
        assert (await sign_up(spammer, "second"))["data"]["signUp"]["token"]

        fourth = await sign_up(spammer, "fourth")
        # X-Forwarded-For from a peer nobody trusts is ignored.
        invented = await sign_up(spammer, "fifth", forwarded_for="192.0.2.1")
        for body in (fourth, invented):
            assert refused(body)
            [error] = body["errors"]
            assert error["message"] == "Too many sign-ups from this address: try again later"
            assert 0 < error["extensions"]["retryAfter"] <= 900
        # Another address signs up as ever; an IPv6 client counts by its /64 network.
        assert (await sign_up(bystander, "fourth"))["data"]["signUp"]["token"]
        for n in range(3):
            assert (await sign_up(neighbour, f"six{n}"))["data"]["signUp"]["token"]
        async with serve(peer="2001:db8:1:2::ff", login_limits=limits) as same_network:
            assert refused(await sign_up(same_network, "seventh"))

    # Refused sign-ups hashed nothing and made no one.
    assert sorted(hashed) == ["pw" * 5] * 6
    names = (await session.execute(text("SELECT username FROM users ORDER BY username"))).scalars()
    assert list(names) == ["first", "fourth", "second", "six0", "six1", "six2", "taken"]
