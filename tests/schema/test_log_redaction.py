"""What the logs may say about failures: never an email, a password, a hash or a token,
and a lost database once per interval, not once per request."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from app import create_app
from db import accounts
from db.accounts import token_digest
from logs import JsonFormatter, TextFormatter
from schema import errors
from schema.errors import DatabaseLogFilter, Throttle
from schema.mutations import auth
from settings import Settings
from tests.conftest import GraphQL

UNREACHABLE = "postgresql+asyncpg://u:p@127.0.0.1:1/db"
EMAIL = "ada.secret@example.com"
PASSWORD = "correct horse secret"
SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) { token userErrors { code } }
}
"""
LOG_IN = """
mutation LogIn($input: LogInInput!) { logIn(input: $input) { token userErrors { code } } }
"""
POSTS = "{ posts { edges { node { title } } } }"


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record at DEBUG (as with STOREFRONT_LOG_LEVEL=DEBUG)."""
    with caplog.at_level(logging.DEBUG):
        yield caplog


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The clock of a fresh throttle for schema/errors.py's lost-database lines."""
    clock = Clock()
    monkeypatch.setattr(errors, "unreachable", Throttle(30.0, clock=clock))
    return clock


def _everything_logged(records: list[logging.LogRecord]) -> str:
    """Each record's parts, and the lines both of logs.py's formats make of it (the
    access lines' fields included)."""
    formatter = logging.Formatter()
    as_json, as_text = JsonFormatter(), TextFormatter()
    parts = []
    for record in records:
        parts += [str(record.msg), repr(record.args), record.getMessage()]
        parts += [as_json.format(record), as_text.format(record)]
        if record.exc_info:
            parts.append(formatter.formatException(record.exc_info))
        parts += [record.exc_text or "", record.stack_info or ""]
    return "\n".join(parts)


def _sign_up(username: str) -> dict[str, Any]:
    return {"input": {"username": username, "email": EMAIL, "password": PASSWORD}}


async def test_failures_log_no_credentials(
    gql: GraphQL, logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed_up = (await gql(SIGN_UP, _sign_up("ada")))["data"]["signUp"]
    token = signed_up["token"]
    assert token

    # A second sign-up with the same email, past the check that normally catches it
    # first and past the handling of the unique index's error, so the insert's error
    # (whose text names the email) reaches the log.
    async def nothing_taken(*args: object) -> set[str]:
        return set()

    monkeypatch.setattr(accounts, "username_or_email_taken", nothing_taken)
    monkeypatch.setattr(auth, "TAKEN_BY_INDEX", {})
    collided = await gql(SIGN_UP, _sign_up("ada_again"))
    [error] = collided["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    request_id = error["extensions"]["requestId"]

    wrong = await gql(LOG_IN, {"input": {"login": EMAIL, "password": PASSWORD + "!"}})
    assert wrong["data"]["logIn"]["userErrors"] == [{"code": "INVALID"}]
    right = await gql(LOG_IN, {"input": {"login": EMAIL, "password": PASSWORD}})
    second_token = right["data"]["logIn"]["token"]
    assert (await gql("{ viewer { username } }", token=token))["data"]["viewer"]
    bad = await gql("{ viewer { username } }", token=token[::-1])
    assert bad["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    logged_text = _everything_logged(logs.records)
    assert logs.records  # the collision at least
    assert any(r.name == "storefront.access" for r in logs.records)
    secrets = [EMAIL, PASSWORD, "$argon2", token, token[::-1], second_token]
    secrets += [token_digest(t) for t in (token, token[::-1], second_token)]
    for secret in secrets:
        assert secret not in logged_text, f"{secret!r} logged"

    # What the collision's line says instead: what failed, and where.
    [logged] = [r for r in logs.records if request_id in r.getMessage()]
    assert logged.exc_info is None
    assert "UniqueViolationError" in logged.getMessage()
    assert "SQLSTATE 23505" in logged.getMessage()
    assert "uq_users_email_lower" in logged.getMessage()
    assert "in sign_up" in logged.getMessage()  # the frames are kept


async def test_a_lost_database_is_one_line_per_interval(
    logs: pytest.LogCaptureFixture, clock: Clock
) -> None:
    settings = Settings(database_url=UNREACHABLE)
    app = create_app(settings, UNREACHABLE)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            bodies = [(await client.post("/graphql", json={"query": POSTS})).json()]
            for _ in range(4):
                bodies.append((await client.post("/graphql", json={"query": POSTS})).json())

    for body in bodies:
        [error] = body["errors"]
        assert error["message"] == "Internal server error"
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        assert error["extensions"]["requestId"]
    errors_logged = [r for r in logs.records if r.levelno >= logging.ERROR]
    [line] = errors_logged
    assert "database unreachable (ConnectionRefusedError)" in line.getMessage()
    assert line.exc_info is None
    assert "u:p" not in _everything_logged(logs.records)  # the URL's credentials

    # After the interval, one more line, counting those held back meanwhile.
    clock.now += 30
    errors.log_unexpected(ConnectionRefusedError(111, "refused"), "posts", "r1")
    assert "4 more like it since the last such line" in logs.records[-1].getMessage()


def test_a_read_that_meets_the_servers_goodbye_is_the_lost_database(
    logs: pytest.LogCaptureFixture, clock: Clock
) -> None:
    """A statement sent as the server shuts down fails in asyncpg's protocol state
    (InternalClientError): db/read_pool.py takes the connection for dropped, and the log
    takes it for the lost database, throttled, not for a bug with its traceback."""
    goodbye = asyncpg.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"
    )
    for request_id in ("r1", "r2"):
        errors.log_unexpected(goodbye, "posts", request_id)
    [line] = [r for r in logs.records if r.levelno >= logging.ERROR]
    assert "database unreachable (InternalClientError) at posts (request r1)" in line.getMessage()
    assert line.exc_info is None


def test_the_filter_strips_database_errors_from_other_loggers_records() -> None:
    try:
        raise asyncpg.UniqueViolationError(f"Key (email)=({EMAIL}) already exists")
    except asyncpg.UniqueViolationError:
        exc_info = sys.exc_info()
    message = "Exception in ASGI application\n"  # as uvicorn words it
    record = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, message, None, exc_info)
    assert DatabaseLogFilter(Throttle(30.0)).filter(record)
    assert record.exc_info is None
    assert EMAIL not in _everything_logged([record])
    assert record.getMessage().startswith("Exception in ASGI application: UniqueViolationError")

    throttle = Throttle(30.0)
    lost = [
        logging.LogRecord(
            "uvicorn.error",
            logging.ERROR,
            __file__,
            1,
            "Exception in ASGI application",
            None,
            (ConnectionRefusedError, ConnectionRefusedError(111, "refused"), None),
        )
        for _ in range(3)
    ]
    assert [DatabaseLogFilter(throttle).filter(r) for r in lost] == [True, False, False]
    assert lost[0].exc_info is None
