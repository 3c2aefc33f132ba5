"""db/throttle.py on its own: keys, sweeping, releasing, and retry times."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import login_throttle
from db.throttle import (
    Kind,
    LoginLimits,
    Reservation,
    Throttled,
    login_counters,
    release_attempt,
    reserve_attempt,
)

LIMITS = LoginLimits(max_failures_per_account=3, max_failures_per_address=5, window_seconds=900)


def test_counters_key_the_normalised_login_and_the_address_by_digest_only() -> None:
    [account, address] = login_counters(" Grace@Example.com ", "203.0.113.1", LIMITS)

    assert (account.kind, account.limit) == (Kind.ACCOUNT, 3)
    assert (address.kind, address.limit) == (Kind.ADDRESS, 5)
    assert account == login_counters("grace@example.com", None, LIMITS)[0]
    assert "grace" not in account.key
    assert len(account.key) == len(address.key) == 64


def test_an_ipv6_client_is_counted_by_its_64_network() -> None:
    def key(address: str) -> str:
        return login_counters("x", address, LIMITS)[1].key

    assert key("2001:db8:1:2::1") == key("2001:db8:1:2:ffff::9")
    assert key("2001:db8:1:2::1") != key("2001:db8:1:3::1")
    assert key("::ffff:203.0.113.1") == key("203.0.113.1")
    assert key("203.0.113.1") != key("203.0.113.2")


async def test_refused_attempts_count_nothing(session: AsyncSession) -> None:
    counters = login_counters("grace", "203.0.113.1", LIMITS)
    for _ in range(3):
        assert isinstance(await reserve_attempt(session, counters, window_seconds=900), Reservation)

    refused = await reserve_attempt(session, counters, window_seconds=900)

    assert isinstance(refused, Throttled)
    assert 899 <= refused.retry_after <= 900
    assert await _attempts(session) == {"account": 3, "address": 3}


async def test_release_takes_back_only_its_own_attempt(session: AsyncSession) -> None:
    counters = login_counters("grace", None, LIMITS)
    first = await reserve_attempt(session, counters, window_seconds=900)
    await session.commit()  # a transaction of its own, so a time of its own
    second = await reserve_attempt(session, counters, window_seconds=900)
    assert isinstance(first, Reservation)
    assert isinstance(second, Reservation)

    await release_attempt(session, second)
    await release_attempt(session, second)  # nothing more to take back

    attempts = (await session.execute(select(login_throttle.c.attempts))).scalar_one()
    assert attempts == [first.at]


async def test_a_lowered_limit_waits_for_enough_attempts_to_leave(session: AsyncSession) -> None:
    counters = login_counters("grace", None, LoginLimits(max_failures_per_account=4))
    for _ in range(4):
        await reserve_attempt(session, counters, window_seconds=900)
        await _age(session, seconds=100)
    # Four attempts, 400, 300, 200 and 100 s old. Under a limit of 2, three must leave
    # the window before one more is allowed: the wait is until the 200 s old one does.
    lowered = login_counters("grace", None, LoginLimits(max_failures_per_account=2))

    refused = await reserve_attempt(session, lowered, window_seconds=900)

    assert isinstance(refused, Throttled)
    assert 699 <= refused.retry_after <= 700


async def test_counters_untouched_for_a_window_are_swept(session: AsyncSession) -> None:
    stale = [
        {"kind": "address", "key": f"{n:064x}", "updated_at": func.now() - timedelta(hours=1)}
        for n in range(3)
    ]
    for row in stale:
        await session.execute(insert(login_throttle).values(**row))
    await session.commit()

    await reserve_attempt(session, login_counters("grace", None, LIMITS), window_seconds=900)

    assert await _attempts(session) == {"account": 1}


async def _age(session: AsyncSession, *, seconds: int) -> None:
    await session.execute(
        text(
            "UPDATE login_throttle"
            " SET attempts = ARRAY(SELECT a - CAST(:by AS interval) FROM unnest(attempts) a)"
        ),
        {"by": timedelta(seconds=seconds)},
    )


async def _attempts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(login_throttle.c.kind, func.cardinality(login_throttle.c.attempts))
    )
    return {kind: count for kind, count in rows.all()}
