"""Sign-in throttling: failed attempts counted per login name and per client address;
and sign-ups per client address (every one counts: each costs a password hash, and
its answer tells whether a name or email is taken).

One row per counter (`login_throttle`): the times of its attempts still in the
window (sorted whenever they are pruned), at most `limit` of them. An attempt is reserved before the
password is verified and stays as the failure it turns out to be; a success takes
its reservation back. The row lock that the reserving upsert takes makes the count
exact across connections and instances: concurrent attempts on one counter queue
on that lock, and each sees the others' reservations before deciding. Times are
the database's, so instances with skewed clocks agree.

Rows never seen again are swept once their newest attempt has left the window, so
the table holds at most one short row per counter touched within the window.
The caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts import normalise_login

# Per IPv6 client, the network a subscriber is handed: one host alone costs nothing
# to change within it.
IPV6_PREFIX = 64
SWEEP_BATCH = 100


class Kind(Enum):
    ACCOUNT = "account"
    ADDRESS = "address"
    SIGN_UP = "sign_up"  # per client address


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """How many failures a login name and a client address may have within the window,
    and how many sign-ups a client address may make in it."""

    max_failures_per_account: int = 10
    max_failures_per_address: int = 100
    max_sign_ups_per_address: int = 20
    window_seconds: int = 900


@dataclass(frozen=True, slots=True)
class Counter:
    kind: Kind
    key: str  # SHA-256 (hex) of the normalised subject: no login or address in clear
    limit: int


@dataclass(frozen=True, slots=True)
class Reservation:
    """An admitted attempt, counted as a failure until `release_attempt` takes it back."""

    counters: tuple[Counter, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class Throttled:
    retry_after: int  # whole seconds until enough counted failures leave the window


def login_counters(login: str, address: str | None, limits: LoginLimits) -> tuple[Counter, ...]:
    """The counters an attempt to sign in as `login` from `address` is checked against.

    Keyed by the login text as typed (normalised as the user lookup does), never by
    the user it names: a name that matches nobody is counted exactly like one that
    does, so throttling cannot tell which exist.
    """
    counters = [
        Counter(Kind.ACCOUNT, _digest(normalise_login(login)), limits.max_failures_per_account)
    ]
    if address is not None:
        counters.append(
            Counter(Kind.ADDRESS, _digest(_address_key(address)), limits.max_failures_per_address)
        )
    return tuple(counters)


def sign_up_counters(address: str | None, limits: LoginLimits) -> tuple[Counter, ...]:
    """The counter a sign-up from `address` is checked against: none when the address is
    unknown (a Unix socket, or a test client without one)."""
    if address is None:
        return ()
    key = _digest(_address_key(address))
    return (Counter(Kind.SIGN_UP, key, limits.max_sign_ups_per_address),)


def _digest(subject: str) -> str:
    return hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()


def _address_key(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


_PRUNE = text(
    """
    INSERT INTO login_throttle AS t (kind, key)
    SELECT c.kind, c.key
      FROM unnest(CAST(:kinds AS text[]), CAST(:keys AS text[])) WITH ORDINALITY AS c(kind, key, n)
     ORDER BY c.n
    ON CONFLICT (kind, key) DO UPDATE
       SET attempts = ARRAY(
               SELECT a FROM unnest(t.attempts) AS a
                WHERE a > now() - make_interval(secs => :window) ORDER BY a),
           updated_at = now()
    RETURNING kind, key, attempts, now() AS now
    """
)
_APPEND = text(
    """
    UPDATE login_throttle SET attempts = attempts || now()
     WHERE (kind, key) IN (
           SELECT * FROM unnest(CAST(:kinds AS text[]), CAST(:keys AS text[])))
    """
)
_SWEEP = text(
    """
    DELETE FROM login_throttle WHERE (kind, key) IN (
        SELECT kind, key FROM login_throttle
         WHERE updated_at < now() - make_interval(secs => :window)
         ORDER BY updated_at LIMIT :batch
           FOR UPDATE SKIP LOCKED)
    """
)
# Takes back one occurrence of the reservation's time (equal times are interchangeable).
_RELEASE = text(
    """
    UPDATE login_throttle
       SET attempts = attempts[1:array_position(attempts, CAST(:at AS timestamptz)) - 1]
                   || attempts[array_position(attempts, CAST(:at AS timestamptz)) + 1:]
     WHERE kind = :kind AND key = :key
       AND array_position(attempts, CAST(:at AS timestamptz)) IS NOT NULL
    """
)


def _keys(counters: Sequence[Counter]) -> dict[str, list[str]]:
    return {"kinds": [c.kind.value for c in counters], "keys": [c.key for c in counters]}


async def reserve_attempt(
    session: AsyncSession, counters: Sequence[Counter], *, window_seconds: int
) -> Reservation | Throttled:
    """Count an attempt against every counter, or refuse it if any is at its limit.

    Locks the counters' rows until the transaction ends, in the order given (the
    INSERT takes its rows in the SELECT's order): with the account's always before
    the address's, as `login_counters` gives them, no two attempts deadlock.
    A refused attempt counts nothing.
    """
    window = timedelta(seconds=window_seconds)
    rows = (
        await session.execute(_PRUNE, {**_keys(counters), "window": float(window_seconds)})
    ).all()
    limits = {(c.kind.value, c.key): c.limit for c in counters}
    waits: list[timedelta] = []
    for row in rows:
        limit = limits[(row.kind, row.key)]
        attempts: list[datetime] = row.attempts
        if len(attempts) >= limit:
            # Under the limit again once this one, and all before it, leave the window.
            waits.append(attempts[len(attempts) - limit] + window - row.now)
    if waits:
        await _sweep(session, window_seconds)
        return Throttled(retry_after=max(1, math.ceil(max(waits).total_seconds())))
    await session.execute(_APPEND, _keys(counters))
    await _sweep(session, window_seconds)
    return Reservation(counters=tuple(counters), at=rows[0].now)


async def release_attempt(session: AsyncSession, reservation: Reservation) -> None:
    """The attempt succeeded: it is not a failure, so it no longer counts.

    Failures before it still count: a success does not give whoever is guessing at
    the same login name a fresh allowance.
    """
    # One counter at a time, in the reserving order: the same lock order as everyone's.
    for counter in reservation.counters:
        await session.execute(
            _RELEASE, {"kind": counter.kind.value, "key": counter.key, "at": reservation.at}
        )


async def _sweep(session: AsyncSession, window_seconds: int) -> None:
    """Delete a batch of counters untouched for a whole window (their attempts are all out)."""
    await session.execute(_SWEEP, {"window": float(window_seconds), "batch": SWEEP_BATCH})
