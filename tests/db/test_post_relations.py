"""Relations joined to post rows read back exactly as their own batch reads return them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from db import posts, tags, users
from db.access import Access
from db.engine import read
from db.paging import PageRequest
from db.post_relations import AUTHOR, AUTHOR_PREFIX, TAGS, tags_of
from db.read_pool import ReadPool
from tests.db.rows import joined_columns
from tests.factories import make_post, make_user

BOTH = frozenset({AUTHOR, TAGS})
ANYONE = Access()


async def test_by_ids_brings_what_users_and_tags_reads_would(
    session: AsyncSession, read_pool: ReadPool
) -> None:
    ann = await make_user(session, full_name="Ann A", email="ann@example.com")
    tagged = await make_post(session, ann.id, tags=["zeta", "alpha", "mid"])
    bare = await make_post(session, ann.id)
    ids = [bare.id, 0, tagged.id]

    rows = await read(read_pool, posts.posts_by_ids, ids, access=ANYONE, relations=BOTH)
    [author] = await read(read_pool, users.users_by_ids, [ann.id])
    tag_lists = await read(read_pool, tags.tags_by_post_ids, [bare.id, tagged.id])

    bare_row, missing, tagged_row = rows
    assert missing is None
    assert bare_row is not None
    assert tagged_row is not None
    assert author is not None
    assert [bare_row.id, tagged_row.id] == [bare.id, tagged.id]
    assert joined_columns(tagged_row, AUTHOR_PREFIX) == dict(author)
    assert tags_of(bare_row) == []
    assert tag_lists[0] == []
    assert tags_of(tagged_row) == [(t.id, t.name) for t in tag_lists[1]]
    assert [name for _, name in tags_of(tagged_row)] == ["alpha", "mid", "zeta"]


async def test_hidden_posts_stay_hidden_with_relations(
    session: AsyncSession, read_pool: ReadPool
) -> None:
    ann = await make_user(session)
    draft = await make_post(session, ann.id, published=False, tags=["x"])

    rows = await read(read_pool, posts.posts_by_ids, [draft.id], access=ANYONE, relations=BOTH)
    own = Access(viewer_id=ann.id)
    mine = await read(read_pool, posts.posts_by_ids, [draft.id], access=own, relations=BOTH)

    assert rows == [None]
    assert mine[0] is not None
    assert [name for _, name in tags_of(mine[0])] == ["x"]


async def test_pages_keep_their_rows_and_order_with_relations(
    session: AsyncSession, read_pool: ReadPool
) -> None:
    authors = [await make_user(session) for _ in range(3)]
    for n in range(12):
        await make_post(session, authors[n % 3].id, tags=["common", f"t{n % 4}"])
    common = await read(read_pool, tags.tag_by_name, "common")
    assert common is not None
    for request in (PageRequest(limit=3), PageRequest(limit=3, backward=True)):
        for relations in (frozenset({AUTHOR}), frozenset({TAGS}), BOTH):
            plain_page = await read(
                read_pool, posts.posts_page, request, ordering=posts.NEWEST,
                where=posts.NO_FILTER, access=ANYONE,
            )  # fmt: skip
            page = await read(
                read_pool, posts.posts_page, request, ordering=posts.NEWEST,
                where=posts.NO_FILTER, access=ANYONE, relations=relations,
            )  # fmt: skip
            assert [r.id for r in page.rows] == [r.id for r in plain_page.rows]
            assert page.has_next == plain_page.has_next

            ids = [a.id for a in authors]
            plain = await read(
                read_pool, posts.post_pages_by_author_ids, ids, request,
                ordering=posts.NEWEST, where=posts.NO_FILTER, access=ANYONE,
            )  # fmt: skip
            joined = await read(
                read_pool, posts.post_pages_by_author_ids, ids, request,
                ordering=posts.NEWEST, where=posts.NO_FILTER, access=ANYONE,
                relations=relations,
            )  # fmt: skip
            assert [[r.id for r in p.rows] for p in joined] == [
                [r.id for r in p.rows] for p in plain
            ]
            if AUTHOR in relations:
                for author, page_of in zip(authors, joined, strict=True):
                    author_ids = {joined_columns(r, AUTHOR_PREFIX)["id"] for r in page_of.rows}
                    assert author_ids == {author.id}

            ordering = posts.tagged_ordering(posts.NEWEST)
            by_tag = await read(
                read_pool, posts.post_pages_by_tag_ids, [common.id], request,
                ordering=ordering, access=ANYONE, relations=relations,
            )  # fmt: skip
            assert [r.id for r in by_tag[0].rows] == [r.id for r in plain_page.rows]
            if TAGS in relations:
                assert all("common" in dict(tags_of(r)).values() for r in by_tag[0].rows)
