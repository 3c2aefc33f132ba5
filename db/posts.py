"""Batch reads of posts: by id, pages (top level, per author, per tag) and counts.

Visibility is applied inside every statement, so no caller ever holds a row its
viewer may not see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Select,
    String,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
)

from db import counts
from db.access import Access, Reader, visible_posts, visible_tagged
from db.models import post_tags, posts, tags, users
from db.paging import (
    Ordering,
    Page,
    PageFor,
    PageRequest,
    PageShape,
    any_id,
    counted,
    fetch_page,
    fetch_page_with_pages,
    fetch_pages_by_parent,
    fetch_parent_with_page,
    page_with_pages,
    paged,
    pages_by_parent,
    parent_with_page,
)
from db.relations import NO_RELATIONS, Relations, join_all
from db.rows import Row, count_per_key, one_per_key, row_id
from db.search import contains, search_values
from db.statements import fetch, fetch_value, shaped
from db.tags import normalise_name
from db.users import searched, user_by_username_query, users_page

# An author's columns beside their page (`author_with_post_page`), and their count.
AUTHOR_PAGE_PREFIX = "user__"
POST_COUNT = "post_count"

NEWEST = Ordering("newest", (posts.c.created_at, posts.c.id), descending=True)
OLDEST = Ordering("oldest", (posts.c.created_at, posts.c.id))
TITLE = Ordering("title", (posts.c.title, posts.c.id))


@dataclass(frozen=True, slots=True)
class PostFilter:
    published: bool | None = None
    author_username: str | None = None
    tag: str | None = None
    search: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None

    @property
    def shape(self) -> FilterShape:
        return FilterShape(
            published=self.published is not None,
            author_username=self.author_username is not None,
            tag=self.tag is not None,
            search=bool(self.search),
            created_after=self.created_after is not None,
            created_before=self.created_before is not None,
        )

    def values(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "author_username": self.author_username,
            "tag": normalise_name(self.tag) if self.tag is not None else None,
            "created_after": self.created_after,
            "created_before": self.created_before,
            **search_values(self.search),
        }


@dataclass(frozen=True, slots=True)
class FilterShape:
    """Which of a PostFilter's conditions are set."""

    published: bool = False
    author_username: bool = False
    tag: bool = False
    search: bool = False
    created_after: bool = False
    created_before: bool = False


NO_FILTER = PostFilter()


@dataclass(frozen=True, slots=True)
class CountOf:
    """A count of an author's posts that rides in their lookup: the one
    `post_counts_by_author_ids` reads from the kept counts (`where` filters on
    `published` alone, or not at all)."""

    published: bool | None = None

    @classmethod
    def of(cls, where: object) -> CountOf | None:
        """The count `post_counts_by_author_ids` reads for `where`, if it is one of these."""
        if isinstance(where, PostFilter) and where == PostFilter(published=where.published):
            return cls(where.published)
        return None


def _conditions(reader: Reader, where: FilterShape) -> list[ColumnElement[bool]]:
    conditions = [visible_posts(reader)]
    if where.published:
        conditions.append(posts.c.published == bindparam("published", type_=Boolean))
    if where.author_username:
        username = bindparam("author_username", type_=String)
        author = select(users.c.id).where(func.lower(users.c.username) == func.lower(username))
        conditions.append(posts.c.author_id == author.scalar_subquery())
    if where.tag:
        tagged = (
            select(post_tags.c.post_id)
            .join(tags, tags.c.id == post_tags.c.tag_id)
            .where(
                post_tags.c.post_id == posts.c.id,
                tags.c.name == bindparam("tag", type_=String),
            )
        )
        conditions.append(exists(tagged))
    if where.search:
        conditions.append(or_(contains(posts.c.title), contains(posts.c.body)))
    if where.created_after:
        after = bindparam("created_after", type_=DateTime(timezone=True))
        conditions.append(posts.c.created_at > after)
    if where.created_before:
        before = bindparam("created_before", type_=DateTime(timezone=True))
        conditions.append(posts.c.created_at < before)
    return conditions


def _visible(reader: Reader, where: FilterShape = NO_FILTER.shape) -> Select[Any]:
    return select(posts).where(and_(*_conditions(reader, where)))


@shaped
def _by_ids(reader: Reader, relations: Relations) -> Select[Any]:
    return join_all(_visible(reader).where(any_id(posts.c.id)), posts, relations)


async def posts_by_ids(
    conn: asyncpg.Connection,
    ids: Sequence[int],
    *,
    access: Access,
    relations: Relations = NO_RELATIONS,
) -> list[Row | None]:
    """By id, in key order; with the author and tags `relations` asks for (db/post_relations.py)."""
    statement = _by_ids(access.reader, relations)
    return one_per_key(ids, await fetch(conn, statement, ids=list(ids), **access.values))


async def posts_page(
    conn: asyncpg.Connection,
    request: PageRequest,
    *,
    ordering: Ordering,
    where: PostFilter,
    access: Access,
    relations: Relations = NO_RELATIONS,
) -> Page:
    statement = paged(
        _visible, request.shape, ordering, access.reader, where.shape, relations=relations
    )
    return await fetch_page(conn, statement, request, **access.values, **where.values())


async def posts_count(conn: asyncpg.Connection, *, where: PostFilter, access: Access) -> int:
    if where == NO_FILTER:
        return await counts.all_posts(conn, access=access)
    statement = counted(_visible, access.reader, where.shape)
    return int(await fetch_value(conn, statement, **access.values, **where.values()))


def _of_author(reader: Reader, where: FilterShape) -> PageFor:
    """The posts of the author whose id is given, that the reader may see."""

    def page_for(author_id: ColumnElement[int]) -> Select[Any]:
        return _visible(reader, where).where(posts.c.author_id == author_id)

    return page_for


@shaped
def _pages_by_author(
    shape: PageShape,
    ordering: Ordering,
    reader: Reader,
    where: FilterShape,
    relations: Relations,
) -> Select[Any]:
    return pages_by_parent(_of_author(reader, where), ordering, shape, relations)


async def post_pages_by_author_ids(
    conn: asyncpg.Connection,
    author_ids: Sequence[int],
    request: PageRequest,
    *,
    ordering: Ordering,
    where: PostFilter,
    access: Access,
    relations: Relations = NO_RELATIONS,
) -> list[Page]:
    statement = _pages_by_author(request.shape, ordering, access.reader, where.shape, relations)
    values = {**access.values, **where.values()}
    return await fetch_pages_by_parent(conn, statement, author_ids, request, **values)


@shaped
def _author_with_page(
    shape: PageShape,
    ordering: Ordering,
    reader: Reader,
    where: FilterShape,
    relations: Relations,
    count: CountOf | None,
) -> Select[Any]:
    author = user_by_username_query()
    if count is not None:
        counted = counts.author_posts(reader, count.published, users.c.id)
        author = author.add_columns(counted.label(POST_COUNT))
    page_for = _of_author(reader, where)
    return parent_with_page(author, AUTHOR_PAGE_PREFIX, page_for, ordering, shape, relations)


async def author_with_post_page(
    conn: asyncpg.Connection,
    username: str,
    request: PageRequest,
    *,
    ordering: Ordering,
    where: PostFilter,
    access: Access,
    relations: Relations = NO_RELATIONS,
    count: CountOf | None = None,
) -> tuple[Row | None, Page]:
    """The user named `username` (columns under `AUTHOR_PAGE_PREFIX`) and the page of
    their posts that `post_pages_by_author_ids` would give for the same arguments; with
    `count`, also what `post_counts_by_author_ids` gives them for `count.where()`, in
    the column `AUTHOR_PAGE_PREFIX + POST_COUNT`."""
    statement = _author_with_page(
        request.shape, ordering, access.reader, where.shape, relations, count
    )
    values = {**access.values, **where.values()}
    return await fetch_parent_with_page(conn, statement, request, username=username, **values)


@shaped
def _users_with_pages(
    user_shape: PageShape,
    user_ordering: Ordering,
    search: bool,
    shape: PageShape,
    ordering: Ordering,
    reader: Reader,
    where: FilterShape,
    relations: Relations,
    user_relations: Relations,
) -> Select[Any]:
    page_for = _of_author(reader, where)
    users = searched(search)
    return page_with_pages(
        users, user_ordering, user_shape, page_for, ordering, shape, relations, user_relations
    )


async def users_with_post_pages(
    conn: asyncpg.Connection,
    request: PageRequest,
    below: PageRequest,
    *,
    ordering: Ordering,
    below_ordering: Ordering,
    search: str | None,
    where: PostFilter,
    access: Access,
    relations: Relations = NO_RELATIONS,
    parent_relations: Relations = NO_RELATIONS,
) -> tuple[Page, list[Page]]:
    """The page `users_page` gives for `request`, `ordering`, `search` and
    `parent_relations` (the users' unread columns), and each of
    its users' first page of posts as `post_pages_by_author_ids` gives it for `below`
    (which starts at the beginning: no cursor), `below_ordering` and the rest. One
    statement, unless both the users and their posts are searched (each binds its own
    `:search`): then the two reads, one after the other."""
    if search and where.search:
        users = await users_page(
            conn, request, search=search, ordering=ordering, relations=parent_relations
        )
        pages = await post_pages_by_author_ids(
            conn,
            [row_id(row) for row in users.rows],
            below,
            ordering=below_ordering,
            where=where,
            access=access,
            relations=relations,
        )
        return users, pages
    statement = _users_with_pages(
        request.shape,
        ordering,
        bool(search),
        below.shape,
        below_ordering,
        access.reader,
        where.shape,
        relations,
        parent_relations,
    )
    values = {**access.values, **where.values(), **search_values(search)}
    return await fetch_page_with_pages(conn, statement, request, below, **values)


@shaped
def _counts_by_author(reader: Reader, where: FilterShape) -> Select[Any]:
    return (
        select(posts.c.author_id, func.count())
        .where(any_id(posts.c.author_id), *_conditions(reader, where))
        .group_by(posts.c.author_id)
    )


async def post_counts_by_author_ids(
    conn: asyncpg.Connection, author_ids: Sequence[int], *, where: PostFilter, access: Access
) -> list[int]:
    if where == PostFilter(published=where.published):
        return await counts.posts_by_author_ids(
            conn, author_ids, published=where.published, access=access
        )
    statement = _counts_by_author(access.reader, where.shape)
    values = {**access.values, **where.values()}
    return count_per_key(author_ids, await fetch(conn, statement, ids=list(author_ids), **values))


# A tag's posts by date page through post_tags' own index. post_created_at and
# post_id are copies of posts.created_at and posts.id, so the keys (and so the
# cursors, which share the posts orderings' names) are the same as any post list's.
TAGGED_NEWEST = Ordering(
    NEWEST.name, (post_tags.c.post_created_at, post_tags.c.post_id), descending=True
)
TAGGED_OLDEST = Ordering(OLDEST.name, (post_tags.c.post_created_at, post_tags.c.post_id))
TAGGED = {NEWEST.name: TAGGED_NEWEST, OLDEST.name: TAGGED_OLDEST}


def tagged_ordering(ordering: Ordering) -> Ordering:
    """The ordering a tag's posts page by for `ordering` of posts."""
    return TAGGED.get(ordering.name, ordering)


@shaped
def _pages_by_tag(
    shape: PageShape, ordering: Ordering, reader: Reader, relations: Relations
) -> Select[Any]:
    def page_for(tag_id: ColumnElement[int]) -> Select[Any]:
        return (
            select(posts, post_tags.c.post_created_at, post_tags.c.post_id)
            .join(post_tags, post_tags.c.post_id == posts.c.id)
            .where(post_tags.c.tag_id == tag_id, visible_tagged(reader))
        )

    return pages_by_parent(page_for, ordering, shape, relations)


async def post_pages_by_tag_ids(
    conn: asyncpg.Connection,
    tag_ids: Sequence[int],
    request: PageRequest,
    *,
    ordering: Ordering,
    access: Access,
    relations: Relations = NO_RELATIONS,
) -> list[Page]:
    """Each tag's page; `ordering` must come from `tagged_ordering`."""
    statement = _pages_by_tag(request.shape, ordering, access.reader, relations)
    return await fetch_pages_by_parent(conn, statement, tag_ids, request, **access.values)


async def post_counts_by_tag_ids(
    conn: asyncpg.Connection, tag_ids: Sequence[int], *, access: Access
) -> list[int]:
    return await counts.posts_by_tag_ids(conn, tag_ids, access=access)
