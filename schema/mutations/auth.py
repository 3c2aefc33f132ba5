"""signUp, logIn, logOut."""

from __future__ import annotations

from datetime import timedelta

import strawberry
from sqlalchemy.exc import IntegrityError

from db import accounts, throttle
from db.users import user_in_transaction
from db.validation import check_email, check_password, check_text, check_username
from db.writes import violated_constraint
from schema import metrics
from schema.context import Info
from schema.errors import RateLimited
from schema.mutations.payloads import (
    AuthPayload,
    Problems,
    UserError,
    UserErrorCode,
    require_viewer,
    user_error,
)
from schema.types.user import User

FULL_NAME_MAX = 100
WRONG_LOGIN = "The login or the password is wrong"
TOO_MANY_ATTEMPTS = "Too many failed sign-in attempts: try again later"
TOO_MANY_SIGN_UPS = "Too many sign-ups from this address: try again later"
TAKEN_BY_INDEX = {"uq_users_username_lower": "username", "uq_users_email_lower": "email"}


@strawberry.input
class SignUpInput:
    username: str
    email: str
    password: str
    full_name: str | None = None


@strawberry.input
class LogInInput:
    login: str = strawberry.field(description="username or email")
    password: str


def _taken(field: str) -> UserError:
    return user_error(UserErrorCode.TAKEN, f"That {field} is already taken", ["input", field])


@strawberry.type
class AuthMutation:
    @strawberry.mutation
    async def sign_up(self, info: Info, input: SignUpInput) -> AuthPayload:
        full_name = (input.full_name or "").strip() or None
        problems = Problems()
        for field, problem in (
            ("username", check_username(input.username)),
            ("email", check_email(input.email) or check_text(input.email)),
            ("password", check_password(input.password) or check_text(input.password)),
        ):
            if problem:
                problems.invalid(problem, ["input", field])
        if (
            full_name is not None
            and problems.text(full_name, ["input", "fullName"])
            and len(full_name) > FULL_NAME_MAX
        ):
            problems.invalid(
                f"fullName must be at most {FULL_NAME_MAX} characters", ["input", "fullName"]
            )
        if problems.errors:
            return AuthPayload(user_errors=problems.errors)

        services = info.context.services
        await _admit_sign_up(info)
        # Checked before the slow hash; the unique indexes still decide a race below.
        async with services.sessionmaker() as session:
            taken = await accounts.username_or_email_taken(session, input.username, input.email)
        if taken:
            return AuthPayload(user_errors=[_taken(field) for field in sorted(taken, reverse=True)])

        password_hash = await accounts.hash_password(input.password)
        try:
            async with services.sessionmaker.begin() as session:
                user_id = await accounts.insert_user(
                    session,
                    username=input.username,
                    email=input.email,
                    password_hash=password_hash,
                    full_name=full_name,
                )
                token = await accounts.issue_token(
                    session, user_id, ttl=timedelta(hours=services.token_ttl_hours)
                )
                row = await user_in_transaction(await session.connection(), user_id)
        except IntegrityError as exc:
            taken_field = TAKEN_BY_INDEX.get(violated_constraint(exc) or "")
            if taken_field is None:
                raise
            return AuthPayload(user_errors=[_taken(taken_field)])
        await _sign_in(info, token)
        return AuthPayload(token=token, user=User.from_row(row))

    @strawberry.mutation
    async def log_in(self, info: Info, input: LogInInput) -> AuthPayload:
        services = info.context.services
        counters = throttle.login_counters(
            input.login, info.context.client_ip, services.login_limits
        )
        async with services.sessionmaker.begin() as session:
            # Counted before the slow verification, so that attempts in flight count too.
            attempt = await throttle.reserve_attempt(
                session, counters, window_seconds=services.login_limits.window_seconds
            )
            # No user's login has a NUL or a lone surrogate, and PostgreSQL would refuse
            # to compare one.
            found = None
            if isinstance(attempt, throttle.Reservation) and check_text(input.login) is None:
                found = await accounts.user_id_by_login(session, input.login)
        if isinstance(attempt, throttle.Throttled):
            if metrics.metrics is not None:
                metrics.metrics.throttled.inc()
            raise RateLimited(TOO_MANY_ATTEMPTS, retry_after=attempt.retry_after)
        # Verified even when no user matched, so a miss costs as much as a hit.
        if not await accounts.verify_password(found[1] if found else None, input.password):
            # The reservation stays: it is this failure.
            wrong = user_error(UserErrorCode.INVALID, WRONG_LOGIN, ["input", "password"])
            return AuthPayload(user_errors=[wrong])
        assert found is not None
        async with services.sessionmaker.begin() as session:
            await throttle.release_attempt(session, attempt)
            token = await accounts.issue_token(
                session, found[0], ttl=timedelta(hours=services.token_ttl_hours)
            )
            row = await user_in_transaction(await session.connection(), found[0])
        await _sign_in(info, token)
        return AuthPayload(token=token, user=User.from_row(row))

    @strawberry.mutation(description="Revokes the token the request was made with.")
    async def log_out(self, info: Info) -> bool:
        viewer = require_viewer(info)
        async with info.context.services.sessionmaker.begin() as session:
            await accounts.revoke_token(session, viewer.token_id)
        # This process's own Listener hears of it soon; the client's next request may
        # come sooner.
        info.context.services.sign_ins.invalidate(str(viewer.token_id))
        info.context.reset_loaders()
        return True


async def _admit_sign_up(info: Info) -> None:
    """Count a sign-up against its client address, or refuse it with RATE_LIMITED.

    Counted whatever its outcome, before anything is looked up: each one costs a
    password hash, and its answer says whether a username or email is taken."""
    services = info.context.services
    counters = throttle.sign_up_counters(info.context.client_ip, services.login_limits)
    if not counters:
        return
    async with services.sessionmaker.begin() as session:
        attempt = await throttle.reserve_attempt(
            session, counters, window_seconds=services.login_limits.window_seconds
        )
    if isinstance(attempt, throttle.Throttled):
        if metrics.metrics is not None:
            metrics.metrics.sign_ups_throttled.inc()
        raise RateLimited(TOO_MANY_SIGN_UPS, retry_after=attempt.retry_after)


async def _sign_in(info: Info, token: str) -> None:
    """The rest of this request acts for the user who just proved who they are,
    so the payload shows them what they may see of themselves (their email)."""
    services = info.context.services
    viewer = await services.sign_ins.viewer(services.read_pool, token)
    info.context.sign_in(viewer, token)
