"""Users and their credentials: password hashes (argon2id) and bearer tokens (SHA-256)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Float, Select, String, bindparam, cast, extract, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import auth_tokens, users
from db.statements import fetch_one, shaped

_hasher = PasswordHasher()
# Compared against when a login names no user, so that a miss costs as much as a hit.
_DUMMY_HASH = _hasher.hash("storefront-timing-equaliser")


async def hash_password(password: str) -> str:
    """argon2id, off the event loop: a hash costs tens of milliseconds of CPU."""
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    def verify() -> bool:
        try:
            # surrogatepass: a password JSON let through with a lone surrogate is simply wrong.
            secret = password.encode("utf-8", "surrogatepass")
            return _hasher.verify(password_hash or _DUMMY_HASH, secret) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


def token_digest(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough to make a stolen table useless.
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in user a request acts for."""

    user_id: int
    is_admin: bool
    token_id: int


@dataclass(frozen=True, slots=True)
class SignIn:
    """A token found valid: whom it signs in, and for how long it stays valid."""

    viewer: Viewer
    # Until the token expires, by the database's clock (so the app's clock cannot skew it).
    seconds_left: float


@shaped
def _sign_in_by_digest() -> Select[Any]:
    seconds_left = extract("epoch", auth_tokens.c.expires_at - func.now())
    return (
        select(
            auth_tokens.c.id,
            users.c.id.label("user_id"),
            users.c.is_admin,
            cast(seconds_left, Float).label("seconds_left"),
        )
        .join(users, users.c.id == auth_tokens.c.user_id)
        .where(
            auth_tokens.c.token_hash == bindparam("token_hash", type_=String),
            auth_tokens.c.revoked_at.is_(None),
            auth_tokens.c.expires_at > func.now(),
            users.c.is_active,
        )
    )


async def sign_in_by_digest(conn: asyncpg.Connection, digest: str) -> SignIn | None:
    """The active, unexpired, unrevoked token whose `token_digest` is `digest`, or None."""
    row = await fetch_one(conn, _sign_in_by_digest(), token_hash=digest)
    if row is None:
        return None
    viewer = Viewer(user_id=row.user_id, is_admin=row.is_admin, token_id=row.id)
    return SignIn(viewer, row.seconds_left)


async def viewer_by_token(conn: asyncpg.Connection, token: str) -> Viewer | None:
    """The active, unexpired, unrevoked token's user, or None."""
    found = await sign_in_by_digest(conn, token_digest(token))
    return None if found is None else found.viewer


# How long a sign-in token stays valid unless STOREFRONT_TOKEN_TTL_HOURS says otherwise.
TOKEN_TTL_HOURS = 720


async def issue_token(session: AsyncSession, user_id: int, *, ttl: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    await session.execute(
        insert(auth_tokens).values(
            user_id=user_id,
            token_hash=token_digest(token),
            expires_at=datetime.now(UTC) + ttl,
        )
    )
    return token


async def revoke_token(session: AsyncSession, token_id: int) -> bool:
    """Revoke the token. A trigger (revision c4a7e1f20b86) NOTIFYs its id on the AUTH
    channel, so at commit every instance drops what it caches of it; a rolled-back
    revocation tells nobody."""
    result = await session.execute(
        update(auth_tokens)
        .where(auth_tokens.c.id == token_id, auth_tokens.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(auth_tokens.c.id)
    )
    return result.first() is not None


def normalise_login(login: str) -> str:
    """A login as typed, as it is matched (against lower-cased usernames and emails) and
    counted for throttling (db/throttle.py)."""
    return login.strip().lower()


async def user_id_by_login(session: AsyncSession, login: str) -> tuple[int, str] | None:
    """(id, password hash) of the active user whose username or email is `login`."""
    needle = normalise_login(login)
    stmt = select(users.c.id, users.c.password_hash).where(
        (func.lower(users.c.username) == needle) | (func.lower(users.c.email) == needle),
        users.c.is_active,
    )
    row = (await session.execute(stmt)).first()
    return None if row is None else (row.id, row.password_hash)


async def username_or_email_taken(session: AsyncSession, username: str, email: str) -> set[str]:
    """Which of 'username' and 'email' another user already has (case-insensitively)."""
    stmt = select(
        func.bool_or(func.lower(users.c.username) == username.lower()),
        func.bool_or(func.lower(users.c.email) == email.lower()),
    ).where(
        (func.lower(users.c.username) == username.lower())
        | (func.lower(users.c.email) == email.lower())
    )
    row = (await session.execute(stmt)).one()
    return {name for name, taken in (("username", row[0]), ("email", row[1])) if taken}


async def insert_user(
    session: AsyncSession,
    *,
    username: str,
    email: str,
    password_hash: str,
    full_name: str | None = None,
    is_admin: bool = False,
) -> int:
    result = await session.execute(
        insert(users)
        .values(
            username=username,
            email=email,
            password_hash=password_hash,
            full_name=full_name,
            is_admin=is_admin,
        )
        .returning(users.c.id)
    )
    return int(result.scalar_one())


async def create_admin(
    session: AsyncSession, *, username: str, email: str, password: str
) -> str | None:
    """Create an admin; returns what is wrong with the input instead, if anything."""
    from db.validation import check_email, check_password, check_username

    for problem in (check_username(username), check_email(email), check_password(password)):
        if problem:
            return problem
    taken = await username_or_email_taken(session, username, email)
    if taken:
        return " and ".join(sorted(taken)) + " already taken"
    await insert_user(
        session,
        username=username,
        email=email,
        password_hash=await hash_password(password),
        is_admin=True,
    )
    return None
