"""Inserts and updates of posts and their tags. The caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import post_tags, posts, tags
from db.rows import DbRow


async def insert_post(
    session: AsyncSession, *, author_id: int, title: str, body: str, published: bool
) -> DbRow:
    stmt = (
        insert(posts)
        .values(
            author_id=author_id,
            title=title,
            body=body,
            published=published,
            published_at=func.now() if published else None,
        )
        .returning(posts)
    )
    row: DbRow = (await session.execute(stmt)).one()
    return row


async def lock_post(session: AsyncSession, post_id: int) -> DbRow | None:
    """The post's row, locked until the transaction ends (None when there is none)."""
    stmt = select(posts).where(posts.c.id == post_id).with_for_update()
    found: DbRow | None = (await session.execute(stmt)).first()
    return found


async def update_post(
    session: AsyncSession,
    post_id: int,
    *,
    title: str | None = None,
    body: str | None = None,
    published: bool | None = None,
) -> DbRow:
    """Change the given fields; `published_at` is set the first time the post is published."""
    values: dict[str, object] = {"updated_at": func.now()}
    if title is not None:
        values["title"] = title
    if body is not None:
        values["body"] = body
    if published is not None:
        values["published"] = published
        if published:
            values["published_at"] = func.coalesce(posts.c.published_at, func.now())
    stmt = update(posts).where(posts.c.id == post_id).values(values).returning(posts)
    row: DbRow = (await session.execute(stmt)).one()
    return row


async def delete_post(session: AsyncSession, post_id: int) -> bool:
    stmt = delete(posts).where(posts.c.id == post_id).returning(posts.c.id)
    return (await session.execute(stmt)).first() is not None


async def ensure_tags(session: AsyncSession, names: Sequence[str]) -> list[DbRow]:
    """The tags named `names`, created on first use; safe when others create them meanwhile.

    ON CONFLICT DO NOTHING waits for a concurrent inserter of the same name to finish,
    and the SELECT after it (a new snapshot under READ COMMITTED) then sees that row.
    Names are inserted in sorted order so that two such inserts cannot deadlock.
    """
    if not names:
        return []
    ordered = sorted(set(names))
    await session.execute(
        pg_insert(tags)
        .values([{"name": name} for name in ordered])
        .on_conflict_do_nothing(index_elements=[tags.c.name])
    )
    stmt = select(tags).where(tags.c.name.in_(ordered)).order_by(tags.c.name)
    return list((await session.execute(stmt)).all())


async def set_post_tags(session: AsyncSession, post_id: int, tag_ids: Sequence[int]) -> None:
    """Make the post's tags exactly `tag_ids`, keeping the links it already has."""
    unwanted = delete(post_tags).where(post_tags.c.post_id == post_id)
    if tag_ids:
        unwanted = unwanted.where(post_tags.c.tag_id.not_in(tag_ids))
    await session.execute(unwanted)
    if tag_ids:
        await session.execute(
            pg_insert(post_tags)
            .values([{"post_id": post_id, "tag_id": tag_id} for tag_id in sorted(tag_ids)])
            .on_conflict_do_nothing()
        )


async def tag_ids_of_post(session: AsyncSession, post_id: int) -> list[int]:
    stmt = (
        select(post_tags.c.tag_id)
        .where(post_tags.c.post_id == post_id)
        .order_by(post_tags.c.tag_id)
    )
    return list((await session.execute(stmt)).scalars().all())
