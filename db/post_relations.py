"""A post's author and tags as joins into the post's own statement (db/relations.py).

The author's columns are a users row's, named `author__<column>`
(`AUTHOR_PREFIX`); `tags_of` reads the tags.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import FromClause, Select, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from db.models import post_tags
from db.relations import Join, join_lateral, unread
from db.rows import DbRow, column, columns
from db.users import with_user

AUTHOR_PREFIX = "author__"


def _with_tags(stmt: Select[Any], post: FromClause) -> Select[Any]:
    # From post_tags' copies of the tags' names (db/models.py): one index-only scan per
    # post, already in name order, instead of probing tags and sorting per post.
    by_name = (post_tags.c.tag_name, post_tags.c.tag_id)
    listed = (
        select(
            func.array_agg(aggregate_order_by(post_tags.c.tag_id, *by_name)).label("tag_ids"),
            func.array_agg(aggregate_order_by(post_tags.c.tag_name, *by_name)).label("tag_names"),
        )
        .where(post_tags.c.post_id == post.c.id)
        .correlate(post)
        .lateral("post_tag_list")
    )
    return join_lateral(stmt, post, listed)


AUTHOR = Join("post.author", lambda stmt, post: with_user(stmt, post.c.author_id, AUTHOR_PREFIX))
TAGS = Join("post.tags", _with_tags)
# Columns only Post.publishedAt and Post.updatedAt show (timestamps, costly to decode).
PUBLISHED_AT_UNREAD = unread("published_at")
UPDATED_AT_UNREAD = unread("updated_at")
# Only Post.body shows it: most pages list titles, and a body is most of a post's bytes.
BODY_UNREAD = unread("body")
# What posts are ordered by (post_tags' copy, for a tag's posts) and a cursor's key.
CREATED_AT_UNREAD = unread("created_at", "post_created_at")


_TAG_LISTS = columns("tag_ids", "tag_names")


def tags_of(row: DbRow) -> list[tuple[int, str]]:
    """The (id, name) of each tag, by name, that came with a post row fetched with
    `TAGS`."""
    ids, names = _TAG_LISTS(row)
    if ids is None:
        return []
    return list(zip(ids, names, strict=True))


_TAG_IDS, _TAG_NAMES = column("tag_ids"), column("tag_names")


def tag_ids_of(row: DbRow) -> list[int]:
    """`tags_of`'s ids alone."""
    ids: list[int] | None = _TAG_IDS(row)
    return [] if ids is None else ids


def tag_names_of(row: DbRow) -> list[str]:
    """`tags_of`'s names alone."""
    names: list[str] | None = _TAG_NAMES(row)
    return [] if names is None else names
