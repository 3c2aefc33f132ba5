"""Who is reading, and which rows that lets them see (API.md, "Visibility").

A read statement's SQL depends only on the kind of reader (`Reader`); the
viewer's id is bound as `:viewer_id`, so every user shares one prepared statement.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, bindparam, false, or_, true

from db.models import orders, post_tags, posts

VIEWER_ID = bindparam("viewer_id", type_=BigInteger)


class Reader(enum.Enum):
    ANONYMOUS = "anonymous"
    USER = "user"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Access:
    viewer_id: int | None = None
    is_admin: bool = False

    @property
    def reader(self) -> Reader:
        if self.is_admin:
            return Reader.ADMIN
        return Reader.ANONYMOUS if self.viewer_id is None else Reader.USER

    @property
    def values(self) -> dict[str, Any]:
        """The values the visibility conditions bind."""
        return {"viewer_id": self.viewer_id}

    def may_see_private(self, user_id: int) -> bool:
        """Email and orders of `user_id`: the user themself and admins."""
        return self.is_admin or self.viewer_id == user_id


ANONYMOUS = Access()


def visible_posts(reader: Reader) -> ColumnElement[bool]:
    """Published, or the viewer's own, or everything for an admin."""
    return _published_or_own(reader, posts.c.published, posts.c.author_id)


def visible_tagged(reader: Reader) -> ColumnElement[bool]:
    """The same rule on post_tags' copies of its post's columns."""
    return _published_or_own(reader, post_tags.c.post_published, post_tags.c.post_author_id)


def _published_or_own(
    reader: Reader, published: ColumnElement[bool], author_id: ColumnElement[int]
) -> ColumnElement[bool]:
    if reader is Reader.ADMIN:
        return true()
    if reader is Reader.ANONYMOUS:
        return published
    return or_(published, author_id == VIEWER_ID)


def visible_orders(reader: Reader) -> ColumnElement[bool]:
    """The customer's own, or everything for an admin; nothing for anonymous readers."""
    if reader is Reader.ADMIN:
        return true()
    if reader is Reader.ANONYMOUS:
        return false()
    return orders.c.user_id == VIEWER_ID
