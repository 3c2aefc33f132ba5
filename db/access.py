"""Who is reading, and which rows that lets them see (API.md, "Visibility")."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, true

from db.models import orders, post_tags, posts


@dataclass(frozen=True, slots=True)
class Access:
    viewer_id: int | None = None
    is_admin: bool = False

    def visible_posts(self) -> ColumnElement[bool]:
        """Published, or the viewer's own, or everything for an admin."""
        if self.is_admin:
            return true()
        if self.viewer_id is None:
            return posts.c.published
        return or_(posts.c.published, posts.c.author_id == self.viewer_id)

    def visible_tagged(self) -> ColumnElement[bool]:
        """The same rule on post_tags' copies of its post's columns."""
        if self.is_admin:
            return true()
        if self.viewer_id is None:
            return post_tags.c.post_published
        return or_(post_tags.c.post_published, post_tags.c.post_author_id == self.viewer_id)

    def visible_orders(self) -> ColumnElement[bool]:
        """The customer's own, or everything for an admin; nothing for anonymous readers."""
        if self.is_admin:
            return true()
        return orders.c.user_id == (self.viewer_id if self.viewer_id is not None else -1)

    def may_see_private(self, user_id: int) -> bool:
        """Email and orders of `user_id`: the user themself and admins."""
        return self.is_admin or self.viewer_id == user_id


ANONYMOUS = Access()
