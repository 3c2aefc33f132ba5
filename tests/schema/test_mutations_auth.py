"""signUp, logIn, logOut."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts import hash_password
from db.models import users
from tests.conftest import GraphQL
from tests.factories import make_token, make_user, snapshot

SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) {
    token
    user { id username fullName email createdAt }
    userErrors { field code message }
  }
}
"""
LOG_IN = """
mutation LogIn($input: LogInInput!) {
  logIn(input: $input) { token user { username } userErrors { field code message } }
}
"""
LOG_IN_EMAIL = """
mutation LogIn($input: LogInInput!) { logIn(input: $input) { user { email } } }
"""
VIEWER = "{ viewer { username } }"


def _input(**changes: str | None) -> dict[str, object]:
    base: dict[str, str | None] = {
        "username": "ada_l",
        "email": "ada@example.com",
        "password": "correct horse",
        "fullName": "Ada Lovelace",
    }
    return {"input": {**base, **changes}}


async def test_sign_up_returns_a_working_token_and_the_user(gql: GraphQL) -> None:
    body = await gql(SIGN_UP, _input())

    payload = body["data"]["signUp"]
    assert payload["userErrors"] == []
    assert payload["user"]["username"] == "ada_l"
    assert payload["user"]["fullName"] == "Ada Lovelace"
    # The caller just proved who they are: they see their own email.
    assert payload["user"]["email"] == "ada@example.com"
    viewer = await gql(VIEWER, token=payload["token"])
    assert viewer["data"]["viewer"] == {"username": "ada_l"}


async def test_sign_up_reports_every_invalid_field(gql: GraphQL, session: AsyncSession) -> None:
    before = await snapshot(session)

    body = await gql(SIGN_UP, _input(username="a b", email="nope", password="short"))

    payload = body["data"]["signUp"]
    assert payload["token"] is None
    assert payload["user"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", "username"], "INVALID"),
        (["input", "email"], "INVALID"),
        (["input", "password"], "INVALID"),
    ]
    assert await snapshot(session) == before


async def test_sign_up_username_and_email_are_taken_case_insensitively(
    gql: GraphQL, session: AsyncSession
) -> None:
    await make_user(session, username="Ada_L", email="ADA@example.com")
    before = await snapshot(session)

    body = await gql(SIGN_UP, _input())

    errors = body["data"]["signUp"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [
        (["input", "username"], "TAKEN"),
        (["input", "email"], "TAKEN"),
    ]
    assert body["data"]["signUp"]["user"] is None
    # Nothing written but the attempt, counted against the client's address.
    after = await snapshot(session)
    assert after.pop("login_throttle") == 1
    before.pop("login_throttle")
    assert after == before


async def test_twenty_concurrent_sign_ups_make_one_user(
    gql: GraphQL, session: AsyncSession
) -> None:
    bodies = await asyncio.gather(
        *(gql(SIGN_UP, _input(email=f"ada{n}@example.com")) for n in range(20))
    )

    assert [body for body in bodies if "errors" in body] == []
    payloads = [body["data"]["signUp"] for body in bodies]
    made = [p for p in payloads if p["user"] is not None]
    assert len(made) == 1
    rejected = [p["userErrors"] for p in payloads if p["user"] is None]
    assert len(rejected) == 19
    assert all(
        e == [{"field": ["input", "username"], "code": "TAKEN", "message": e[0]["message"]}]
        for e in rejected
    )
    count = select(func.count()).select_from(users).where(users.c.username == "ada_l")
    assert (await session.execute(count)).scalar_one() == 1


async def test_log_in_by_username_or_email(gql: GraphQL, session: AsyncSession) -> None:
    await make_user(
        session,
        username="grace",
        email="grace@example.com",
        password_hash=await hash_password("hopper1906"),
    )

    for login in ("grace", "GRACE@example.com"):
        body = await gql(LOG_IN, {"input": {"login": login, "password": "hopper1906"}})
        payload = body["data"]["logIn"]
        assert payload["userErrors"] == []
        assert payload["user"] == {"username": "grace"}
        assert (await gql(VIEWER, token=payload["token"]))["data"]["viewer"] == payload["user"]
    own = await gql(LOG_IN_EMAIL, {"input": {"login": "grace", "password": "hopper1906"}})
    assert own["data"]["logIn"]["user"] == {"email": "grace@example.com"}


async def test_log_in_failures_look_the_same_whatever_was_wrong(
    gql: GraphQL, session: AsyncSession
) -> None:
    await make_user(session, username="grace", password_hash=await hash_password("hopper1906"))

    wrong_password = await gql(LOG_IN, {"input": {"login": "grace", "password": "hopper1907"}})
    no_such_user = await gql(LOG_IN, {"input": {"login": "nobody", "password": "hopper1906"}})

    assert wrong_password["data"]["logIn"] == no_such_user["data"]["logIn"]
    payload = wrong_password["data"]["logIn"]
    assert payload["token"] is None
    assert payload["user"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", "password"], "INVALID")
    ]


async def test_log_out_revokes_the_token_it_was_made_with(
    gql: GraphQL, session: AsyncSession
) -> None:
    user = await make_user(session)
    token = await make_token(session, user.id)
    other = await make_token(session, user.id)

    body = await gql("mutation { logOut }", token=token)

    assert body == {"data": {"logOut": True}}
    again = await gql(VIEWER, token=token)
    assert again["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await gql(VIEWER, token=other))["data"]["viewer"] is not None


async def test_log_out_needs_a_signed_in_viewer(gql: GraphQL) -> None:
    body = await gql("mutation { logOut }")

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_nul_characters_are_invalid_input_not_internal_errors(gql: GraphQL) -> None:
    signed_up = await gql(SIGN_UP, _input(email="a\u0000@example.com", fullName="A\u0000"))
    logged_in = await gql(LOG_IN, {"input": {"login": "a\u0000", "password": "whatever1"}})

    assert [(e["field"], e["code"]) for e in signed_up["data"]["signUp"]["userErrors"]] == [
        (["input", "email"], "INVALID"),
        (["input", "fullName"], "INVALID"),
    ]
    assert [(e["field"], e["code"]) for e in logged_in["data"]["logIn"]["userErrors"]] == [
        (["input", "password"], "INVALID")
    ]
