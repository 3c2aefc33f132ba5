"""db/counts.py: counts kept by triggers equal count(*) under the visibility rule, after
racing writers, for every kind of reader."""

from __future__ import annotations

import asyncio
import random

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db import counts
from db.access import Access
from db.engine import read
from db.read_pool import ReadPool
from db.writes_posts import delete_post, ensure_tags, insert_post, set_post_tags, update_post
from tests.factories import make_order, make_product, make_user

WRITERS = 6
ROUNDS = 25
TAG_NAMES = [f"t{n}" for n in range(5)]

# What count(*) says, per subject and key: (every row, published posts).
TRUTH = """
SELECT 'posts', 0, count(*), count(*) FILTER (WHERE published) FROM posts
UNION ALL SELECT 'author', author_id, count(*), count(*) FILTER (WHERE published)
  FROM posts GROUP BY author_id
UNION ALL SELECT 'tag', tag_id, count(*), count(*) FILTER (WHERE post_published)
  FROM post_tags GROUP BY tag_id
UNION ALL SELECT 'tag', tag_id, count(*), count(*) FILTER (WHERE p.published)
  FROM post_tags JOIN posts p ON p.id = post_id GROUP BY tag_id
UNION ALL SELECT 'orders', 0, count(*), 0 FROM orders
UNION ALL SELECT 'customer', user_id, count(*), 0 FROM orders GROUP BY user_id
UNION ALL SELECT 'users', 0, count(*), 0 FROM users
UNION ALL SELECT 'tags', 0, count(*), 0 FROM tags
UNION ALL SELECT 'products', 0, count(*), 0 FROM products
"""
KEPT = """
SELECT subject, key, sum(n), sum(published) FROM row_counts
GROUP BY subject, key HAVING sum(n) <> 0 OR sum(published) <> 0
"""


async def _kept_and_true(session: AsyncSession) -> tuple[set[tuple[object, ...]], ...]:
    kept = {tuple(row) for row in (await session.execute(text(KEPT))).all()}
    true = {tuple(row) for row in (await session.execute(text(TRUTH))).all() if row[2]}
    await session.commit()
    return kept, true


async def _writer(
    sessionmaker: async_sessionmaker[AsyncSession], author_ids: list[int], seed: int
) -> None:
    """Creates, publishes, unpublishes, retags, moves to another author and deletes
    posts, each in its own transaction, as the mutations do."""
    rng = random.Random(seed)
    mine: list[int] = []
    for _ in range(ROUNDS):
        async with sessionmaker.begin() as session:
            action = rng.choice(["create", "create", "publish", "retag", "move", "delete"])
            if action == "create" or not mine:
                row = await insert_post(
                    session,
                    author_id=rng.choice(author_ids),
                    title="t",
                    body="b",
                    published=rng.random() < 0.5,
                )
                tag_rows = await ensure_tags(session, rng.sample(TAG_NAMES, rng.randint(0, 3)))
                await set_post_tags(session, row.id, [t.id for t in tag_rows])
                mine.append(row.id)
            elif action == "publish":
                await update_post(session, rng.choice(mine), published=rng.random() < 0.5)
            elif action == "retag":
                tag_rows = await ensure_tags(session, rng.sample(TAG_NAMES, rng.randint(0, 3)))
                await set_post_tags(session, rng.choice(mine), [t.id for t in tag_rows])
            elif action == "move":
                await session.execute(
                    text("UPDATE posts SET author_id = :a WHERE id = :p"),
                    {"a": rng.choice(author_ids), "p": rng.choice(mine)},
                )
            else:
                post_id = mine.pop(rng.randrange(len(mine)))
                assert await delete_post(session, post_id)


async def test_racing_writers_leave_every_count_exact(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    read_pool: ReadPool,
) -> None:
    authors = [await make_user(session) for _ in range(4)]
    admin = await make_user(session, is_admin=True)
    author_ids = [a.id for a in authors]
    product = await make_product(session)
    for customer in (authors[0], authors[1], authors[1]):
        await make_order(session, customer.id, [(product, 1)])
    await session.execute(text("DELETE FROM orders WHERE id = 1"))
    await asyncio.gather(
        *(_writer(sessionmaker, author_ids, seed) for seed in range(WRITERS)),
    )
    # Cascades: a tag and a user deleted with their rows.
    await session.execute(text("DELETE FROM tags WHERE name = 't0'"))
    await session.execute(text(f"DELETE FROM users WHERE id = {author_ids.pop()}"))
    await session.commit()

    kept, true = await _kept_and_true(session)
    assert kept == true
    assert any(subject == "tag" for subject, *_ in kept)

    # And every count the API reads equals count(*) under the visibility rule.
    tag_ids = list((await session.execute(text("SELECT id FROM tags ORDER BY id"))).scalars())
    for access in (Access(), Access(viewer_id=author_ids[0]), Access(admin.id, is_admin=True)):
        assert await _maintained(read_pool, access, author_ids, tag_ids) == await _live(
            session, access, author_ids, tag_ids
        )
    customers = [authors[0].id, authors[1].id]
    assert await read(read_pool, counts.orders, access=Access(admin.id, is_admin=True)) == 2
    assert await read(read_pool, counts.orders, access=Access(customers[1])) == 2
    assert await read(read_pool, counts.orders, access=Access(admin.id)) == 0
    for access, expected in (
        (Access(admin.id, is_admin=True), [0, 2]),
        (Access(customers[0]), [0, 0]),
    ):
        assert (
            await read(read_pool, counts.orders_by_customer_ids, customers, access=access)
            == expected
        )
    for table, rows in (("users", 4), ("tags", len(tag_ids)), ("products", 1), ("orders", 2)):
        assert await read(read_pool, counts.rows_in, table) == rows


# The visibility rule (API.md) as plain SQL, apart from db/access.py's.
RULE = "(p.published OR p.author_id = :viewer OR :admin)"


async def _live(
    session: AsyncSession, access: Access, author_ids: list[int], tag_ids: list[int]
) -> tuple[object, ...]:
    values = {"viewer": access.viewer_id or 0, "admin": access.is_admin}

    async def scalar(sql: str, **more: object) -> object:
        return (await session.execute(text(sql), {**values, **more})).scalar_one()

    everything = await scalar(f"SELECT count(*) FROM posts p WHERE {RULE}")
    by_author = [
        await scalar(f"SELECT count(*) FROM posts p WHERE p.author_id = :a AND {RULE}", a=a)
        for a in author_ids
    ]
    by_tag = [
        await scalar(
            "SELECT count(*) FROM post_tags JOIN posts p ON p.id = post_id"
            f" WHERE tag_id = :t AND {RULE}",
            t=t,
        )
        for t in tag_ids
    ]
    await session.commit()
    return everything, by_author, by_tag


async def _maintained(
    pool: ReadPool, access: Access, author_ids: list[int], tag_ids: list[int]
) -> tuple[object, ...]:
    return (
        await read(pool, counts.all_posts, access=access),
        await read(pool, counts.posts_by_author_ids, author_ids, published=None, access=access),
        await read(pool, counts.posts_by_tag_ids, tag_ids, access=access),
    )
