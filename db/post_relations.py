"""A post's author and tags, fetched in the post's own statement when the caller asks.

A document that shows posts with their author or tags would otherwise run a
statement per relation after the posts' (each a round trip and, on this
service's request path, most of a small query's CPU). `PostRelations` says
which the caller will read; they are joined to the post rows after any LIMIT,
so only rows that are returned pay for them. The author's columns are a users
row's, named `author__<column>` (`AUTHOR_PREFIX`); `tags_of` reads the tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import FromClause, Select, any_, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from db.models import post_tags, tags
from db.paging import DbRow, Relations, join_lateral
from db.statements import columns
from db.users import with_user

AUTHOR_PREFIX = "author__"


@dataclass(frozen=True, slots=True)
class PostRelations(Relations):
    """Which of a post's relations come with its row."""

    author: bool = False
    tags: bool = False

    def join(self, stmt: Select[Any], post: FromClause) -> Select[Any]:
        """`stmt` (whose FROM has `post`, a post table or page) with the asked relations'
        columns: the author's as `author__<column>`, the tags' as `tag_ids`/`tag_names`."""
        if self.author:
            stmt = with_user(stmt, post.c.author_id, AUTHOR_PREFIX)
        if self.tags:
            stmt = _with_tags(stmt, post)
        return stmt


NO_RELATIONS = PostRelations()


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


_TAG_LISTS = columns("tag_ids", "tag_names")


def tags_of(row: DbRow) -> list[tuple[int, str]]:
    """The (id, name) of each tag, by name, that came with a post row fetched with
    `PostRelations(tags=True)`."""
    ids, names = _TAG_LISTS(row)
    if ids is None:
        return []
    return list(zip(ids, names, strict=True))
