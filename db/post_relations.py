"""A post's author and tags as joins into the post's own statement (db/relations.py).

The author's columns are a users row's, named `author__<column>`
(`AUTHOR_PREFIX`); `tags_of` reads the tags.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import FromClause, Select, any_, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from db.models import post_tags, tags
from db.relations import Join, join_lateral
from db.rows import DbRow, columns
from db.users import with_user

AUTHOR_PREFIX = "author__"


def _with_tags(stmt: Select[Any], post: FromClause) -> Select[Any]:
    by_name = (tags.c.name, tags.c.id)
    tag_ids = select(post_tags.c.tag_id).where(post_tags.c.post_id == post.c.id).correlate(post)
    listed = (
        select(
            func.array_agg(aggregate_order_by(tags.c.id, *by_name)).label("tag_ids"),
            func.array_agg(aggregate_order_by(tags.c.name, *by_name)).label("tag_names"),
        )
        # `= ANY(ARRAY(...))`, not a join: the planner probes tags' primary key for
        # the post's few tag ids instead of hashing the whole table for every post.
        .where(tags.c.id == any_(func.array(tag_ids.scalar_subquery())))
        .lateral("post_tag_list")
    )
    return join_lateral(stmt, post, listed)


AUTHOR = Join("post.author", lambda stmt, post: with_user(stmt, post.c.author_id, AUTHOR_PREFIX))
TAGS = Join("post.tags", _with_tags)


_TAG_LISTS = columns("tag_ids", "tag_names")


def tags_of(row: DbRow) -> list[tuple[int, str]]:
    """The (id, name) of each tag, by name, that came with a post row fetched with
    `TAGS`."""
    ids, names = _TAG_LISTS(row)
    if ids is None:
        return []
    return list(zip(ids, names, strict=True))
