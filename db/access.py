"""Who is reading, and which rows that lets them see (API.md, "Visibility").

A read statement's SQL depends only on the kind of reader (`Reader`); the
viewer's id is bound as `:viewer_id`, so every user shares one prepared statement.

Each rule is written once (`_post_rule`, `_own_rule`) over a `_Logic`, and read
two ways: as SQL for the batch reads (`visible_*`) and as Python for one row a
mutation holds (`Access.may_see_*`). tests/db/test_access.py checks that the two
readings agree on real rows.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import BigInteger, ColumnElement, bindparam, false, or_, true

from db.models import orders, post_tags, posts

VIEWER_ID = bindparam("viewer_id", type_=BigInteger)

B = TypeVar("B")


class Reader(enum.Enum):
    ANONYMOUS = "anonymous"
    USER = "user"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class _Logic(Generic[B]):
    """The three things a rule is built from, in SQL or in Python."""

    everything: B
    nothing: B
    either: Callable[[B, B], B]


_SQL: _Logic[ColumnElement[bool]] = _Logic(true(), false(), or_)
_PYTHON: _Logic[bool] = _Logic(True, False, operator.or_)


def _post_rule(reader: Reader, published: B, own: B, logic: _Logic[B]) -> B:
    """Published, or the viewer's own, or everything for an admin."""
    if reader is Reader.ADMIN:
        return logic.everything
    if reader is Reader.ANONYMOUS:
        # They own nothing; leaving `own` out keeps :viewer_id out of their statements.
        return published
    return logic.either(published, own)


def _own_rule(reader: Reader, own: B, logic: _Logic[B]) -> B:
    """The viewer's own, or everything for an admin; nothing for anonymous readers."""
    if reader is Reader.ADMIN:
        return logic.everything
    if reader is Reader.ANONYMOUS:
        return logic.nothing
    return own


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

    def may_see_post(self, author_id: int, published: bool) -> bool:
        """One post, by the rule `visible_posts` applies in SQL."""
        return _post_rule(self.reader, published, author_id == self.viewer_id, _PYTHON)

    def may_see_order(self, customer_id: int) -> bool:
        """One order, by the rule `visible_orders` applies in SQL."""
        return _own_rule(self.reader, customer_id == self.viewer_id, _PYTHON)

    def may_see_private(self, user_id: int) -> bool:
        """Email and orders of `user_id`: the user themself and admins."""
        return _own_rule(self.reader, user_id == self.viewer_id, _PYTHON)


ANONYMOUS = Access()


def visible_posts(reader: Reader) -> ColumnElement[bool]:
    """The post rule as SQL on posts' own columns."""
    return _post_rule(reader, posts.c.published, posts.c.author_id == VIEWER_ID, _SQL)


def visible_tagged(reader: Reader) -> ColumnElement[bool]:
    """The post rule on post_tags' copies of its post's columns."""
    own = post_tags.c.post_author_id == VIEWER_ID
    return _post_rule(reader, post_tags.c.post_published, own, _SQL)


def visible_orders(reader: Reader) -> ColumnElement[bool]:
    """The own rule as SQL on orders: the customer's own, or everything for an admin."""
    return _own_rule(reader, orders.c.user_id == VIEWER_ID, _SQL)


def visible_drafts(reader: Reader, own: ColumnElement[bool]) -> ColumnElement[bool]:
    """The post rule for drafts, `own` saying whose they are: counts kept per author or
    tag (db/counts.py) apply it to the drafts they hold."""
    return _post_rule(reader, false(), own, _SQL)


def visible_own(reader: Reader, own: ColumnElement[bool]) -> ColumnElement[bool]:
    """The own rule, `own` saying whose the rows are (db/counts.py's order counts)."""
    return _own_rule(reader, own, _SQL)
