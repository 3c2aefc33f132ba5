"""`users_with_post_pages` (db/paging.page_with_pages) reads what `users_page` and
`post_pages_by_author_ids` read, in one statement, and no page past the users' page."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from db import posts, users
from db.access import Access
from db.engine import read
from db.paging import Page, PageRequest
from db.post_relations import TAGS
from db.read_pool import ReadPool
from db.statement_counter import counting
from tests.factories import make_post, make_user, minutes

ANYONE = Access()


def _page(page: Page) -> tuple[Any, ...]:
    return ([dict(row) for row in page.rows], page.has_next, page.has_previous)


async def _authors(session: AsyncSession) -> None:
    for name, count in [("ann", 3), ("bob", 0), ("cat", 2), ("dan", 4), ("eve", 1)]:
        user = await make_user(session, username=name, full_name=f"{name} writer")
        for n in range(count):
            await make_post(
                session, user.id, title=f"{name} {n}", created_at=minutes(n), tags=["x"]
            )


@pytest.mark.parametrize(
    ("request_", "below", "search", "where"),
    [
        (PageRequest(limit=3), PageRequest(limit=2), None, posts.NO_FILTER),
        (PageRequest(limit=2, backward=True), PageRequest(limit=1), None, posts.NO_FILTER),
        (PageRequest(limit=5), PageRequest(limit=2, backward=True), "a", posts.NO_FILTER),
        (PageRequest(limit=0), PageRequest(limit=2), None, posts.NO_FILTER),
        # Both searched: each binds :search, so the two reads run one after the other.
        (PageRequest(limit=5), PageRequest(limit=3), "a", posts.PostFilter(search="1")),
    ],
)
async def test_it_reads_what_the_two_reads_read(
    session: AsyncSession,
    read_pool: ReadPool,
    request_: PageRequest,
    below: PageRequest,
    search: str | None,
    where: posts.PostFilter,
) -> None:
    await _authors(session)
    relations = frozenset({TAGS})

    with counting() as log:
        found, pages = await read(
            read_pool, posts.users_with_post_pages, request_, below, ordering=users.BY_USERNAME,
            below_ordering=posts.NEWEST, search=search, where=where, access=ANYONE,
            relations=relations,
        )  # fmt: skip
    expected = await read(
        read_pool, users.users_page, request_, search=search, ordering=users.BY_USERNAME
    )
    expected_pages = await read(
        read_pool, posts.post_pages_by_author_ids, [row.id for row in expected.rows], below,
        ordering=posts.NEWEST, where=where, access=ANYONE, relations=relations,
    )  # fmt: skip

    assert [row.id for row in found.rows] == [row.id for row in expected.rows]
    assert (found.has_next, found.has_previous) == (expected.has_next, expected.has_previous)
    assert [(row.username, row.full_name, row.email) for row in found.rows] == [
        (row.username, row.full_name, row.email) for row in expected.rows
    ]
    assert [
        ([(r.id, r.title, r.created_at, r.tag_names) for r in page.rows], page.has_next)
        for page in pages
    ] == [
        ([(r.id, r.title, r.created_at, r.tag_names) for r in page.rows], page.has_next)
        for page in expected_pages
    ]
    assert log.count == (2 if search and where.search else 1)


async def test_no_page_is_read_for_the_user_past_the_page(
    session: AsyncSession, read_pool: ReadPool
) -> None:
    await _authors(session)

    with counting(timed=True) as log:
        found, pages = await read(
            read_pool, posts.users_with_post_pages, PageRequest(limit=2), PageRequest(limit=5),
            ordering=users.BY_USERNAME, below_ordering=posts.NEWEST, search=None,
            where=posts.NO_FILTER, access=ANYONE,
        )  # fmt: skip

    # ann and bob, and cat fetched to tell there is more: ann's 3 posts, none of cat's.
    assert [row.username for row in found.rows] == ["ann", "bob"]
    assert found.has_next is True
    assert [len(page.rows) for page in pages] == [3, 0]
    [timing] = log.timings
    assert timing.rows == 3 + 3  # the 3 users' rows and ann's posts: no row of cat's
