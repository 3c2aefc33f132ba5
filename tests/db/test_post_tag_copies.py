"""post_tags keep copies of their post's created_at, published and author (for Tag.posts)
and of their tag's name (for Post.tags)."""

from __future__ import annotations

import asyncio

import asyncpg
from sqlalchemy import insert, make_url, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import post_tags, posts, tags
from tests.factories import make_post, make_tag, make_user, minutes


async def _copies(session: AsyncSession, post_id: int) -> list[tuple[object, ...]]:
    stmt = (
        select(post_tags.c.post_created_at, post_tags.c.post_published, post_tags.c.post_author_id)
        .where(post_tags.c.post_id == post_id)
        .order_by(post_tags.c.tag_id)
    )
    return [tuple(row) for row in (await session.execute(stmt)).all()]


async def test_a_new_tagging_copies_its_post(session: AsyncSession) -> None:
    author = await make_user(session)
    post = await make_post(session, author.id, published=False, created_at=minutes(7))
    tag = await make_tag(session, "copied")

    # As a bulk loader would: only the contract's columns.
    await session.execute(insert(post_tags).values(post_id=post.id, tag_id=tag.id))
    await session.commit()

    assert await _copies(session, post.id) == [(minutes(7), False, author.id)]


async def test_changing_the_post_updates_every_copy(session: AsyncSession) -> None:
    author = await make_user(session)
    other = await make_user(session)
    post = await make_post(session, author.id, published=False, tags=["a", "b"])

    await session.execute(
        update(posts)
        .where(posts.c.id == post.id)
        .values(published=True, author_id=other.id, created_at=minutes(99))
    )
    await session.commit()

    assert await _copies(session, post.id) == [(minutes(99), True, other.id)] * 2


async def test_an_unrelated_update_leaves_the_copies_alone(session: AsyncSession) -> None:
    author = await make_user(session)
    post = await make_post(session, author.id, published=True, tags=["a"])
    before = await _copies(session, post.id)

    await session.execute(update(posts).where(posts.c.id == post.id).values(title="New title"))
    await session.commit()

    assert await _copies(session, post.id) == before


async def _names(session: AsyncSession, post_id: int) -> list[str]:
    stmt = (
        select(post_tags.c.tag_name)
        .where(post_tags.c.post_id == post_id)
        .order_by(post_tags.c.tag_name)
    )
    return list((await session.scalars(stmt)).all())


async def test_a_new_tagging_copies_its_tag_name(session: AsyncSession) -> None:
    author = await make_user(session)
    post = await make_post(session, author.id)
    tag = await make_tag(session, "named")

    # As a bulk loader would: only the contract's columns.
    await session.execute(insert(post_tags).values(post_id=post.id, tag_id=tag.id))
    await session.commit()

    assert await _names(session, post.id) == ["named"]


async def test_retagging_a_row_copies_the_new_tag_name(session: AsyncSession) -> None:
    author = await make_user(session)
    post = await make_post(session, author.id, tags=["before"])
    after = await make_tag(session, "after")

    await session.execute(
        update(post_tags).where(post_tags.c.post_id == post.id).values(tag_id=after.id)
    )
    await session.commit()

    assert await _names(session, post.id) == ["after"]


async def test_renaming_a_tag_renames_every_copy(session: AsyncSession) -> None:
    author = await make_user(session)
    first = await make_post(session, author.id, tags=["old-name", "kept"])
    second = await make_post(session, author.id, tags=["old-name"])

    await session.execute(update(tags).where(tags.c.name == "old-name").values(name="new-name"))
    await session.commit()

    assert await _names(session, first.id) == ["kept", "new-name"]
    assert await _names(session, second.id) == ["new-name"]


async def _tag_during(database_url: str, change: str, post_id: int, tag_id: int) -> None:
    """Tag the post while `change` (one statement) is written but not yet committed on
    another connection: the tagging must wait for it, then commit after it."""
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    changer, tagger = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        changing = changer.transaction()
        await changing.start()
        await changer.execute(change)
        tagging = asyncio.create_task(
            tagger.execute(
                "INSERT INTO post_tags (post_id, tag_id) VALUES ($1, $2)", post_id, tag_id
            )
        )
        await asyncio.sleep(0.3)
        assert not tagging.done(), "the tagging should wait for the change"
        await changing.commit()
        await tagging
    finally:
        await changer.close()
        await tagger.close()


async def test_a_tagging_written_while_its_tag_is_renamed_copies_the_new_name(
    session: AsyncSession, database_url: str
) -> None:
    author = await make_user(session)
    post = await make_post(session, author.id)
    tag = await make_tag(session, "old-name")

    rename = f"UPDATE tags SET name = 'new-name' WHERE id = {tag.id}"
    await _tag_during(database_url, rename, post.id, tag.id)

    assert await _names(session, post.id) == ["new-name"]


async def test_the_rebuild_sets_copies_written_with_triggers_off(session: AsyncSession) -> None:
    author = await make_user(session)
    post = await make_post(session, author.id)
    tag = await make_tag(session, "loaded")
    # As a bulk load with triggers off would leave it.
    await session.execute(text("SET LOCAL session_replication_role = replica"))
    await session.execute(insert(post_tags).values(post_id=post.id, tag_id=tag.id))
    await session.commit()
    assert await _names(session, post.id) == [""]

    await session.execute(text("SELECT post_tags_tag_names_rebuild()"))
    await session.commit()

    assert await _names(session, post.id) == ["loaded"]


async def test_a_tagging_written_while_its_post_is_published_copies_it_published(
    session: AsyncSession, database_url: str
) -> None:
    author = await make_user(session)
    post = await make_post(session, author.id, published=False)
    tag = await make_tag(session, "racing")

    publish = f"UPDATE posts SET published = true WHERE id = {post.id}"
    await _tag_during(database_url, publish, post.id, tag.id)

    [(_, published, _)] = await _copies(session, post.id)
    assert published is True
