"""A signed-in request runs exactly the statements of the same anonymous one: its token
costs nothing once this process has verified it (db/sign_ins.py). Checked on each of
the bench's seven queries (bench/queries.py), with their statement budgets."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bench.queries import ALL, ORDERS, Fixtures, Query
from db.models import OrderStatus
from db.statement_counter import StatementLog
from schema.ids import encode_id
from tests.conftest import Counted
from tests.factories import make_order, make_post, make_product, make_token, make_user

# Statements per query, whoever asks (bench/README.md's SQL/req).
BUDGETS = {"Feed": 1, "UserPage": 1, "Users": 1, "Orders": 1, "Tags": 3, "Post": 1, "Profile": 1}


def _token_lookups(log: StatementLog) -> list[str]:
    return [s for s in log.statements if "auth_tokens" in s]


async def _dataset(session: AsyncSession) -> dict[str, Any]:
    admin = await make_user(session, username="root", is_admin=True)
    ann = await make_user(session, username="ann")
    ben = await make_user(session, username="ben")
    posts = []
    for n in range(12):
        author = (ann, ben, admin)[n % 3]
        published = n % 4 != 0
        posts.append(
            await make_post(session, author.id, published=published, tags=[f"t{n % 3}", "all"])
        )
    product = await make_product(session)
    for customer in (ann, ben, ann):
        await make_order(session, customer.id, [(product, 2)], status=OrderStatus.PAID)
    post = next(p for p in posts if p.published)
    return {
        "fixtures": Fixtures("ann", post.id, encode_id("Post", post.id)),
        "tokens": {
            "ann": await make_token(session, ann.id),
            "root": await make_token(session, admin.id),
        },
    }


async def _signed_in(
    counted: Counted, query: Query, fixtures: Fixtures, token: str
) -> tuple[StatementLog, StatementLog]:
    """The statements of the query's first signed-in request, then of its second."""
    body = query.body("storefront", fixtures)
    _, cold = await counted(body["query"], body["variables"], token=token)
    _, warm = await counted(body["query"], body["variables"], token=token)
    return cold, warm


@pytest.mark.parametrize("query", [q for q in ALL if not q.admin], ids=lambda q: q.label)
async def test_signed_in_runs_the_statements_of_anonymous(
    session: AsyncSession, client: httpx.AsyncClient, counted: Counted, query: Query
) -> None:
    data = await _dataset(session)
    body = query.body("storefront", data["fixtures"])
    _, anonymous = await counted(body["query"], body["variables"])
    assert anonymous.count == BUDGETS[query.name]

    for token in data["tokens"].values():  # a user, who has drafts; an admin
        cold, warm = await _signed_in(counted, query, data["fixtures"], token)
        assert len(_token_lookups(cold)) == 1
        assert _token_lookups(warm) == []
        assert warm.count == anonymous.count


async def test_orders_signed_in_runs_its_budget_once_the_token_is_known(
    session: AsyncSession, client: httpx.AsyncClient, counted: Counted
) -> None:
    # Anonymous callers may not list orders, so the comparison is between the token's
    # first request and the next: the same statements but the lookup.
    data = await _dataset(session)
    for token in data["tokens"].values():  # a customer, who sees their own; an admin
        cold, warm = await _signed_in(counted, ORDERS, data["fixtures"], token)
        assert len(_token_lookups(cold)) == 1
        assert _token_lookups(warm) == []
        assert warm.count == cold.count - 1 == BUDGETS[ORDERS.name]
