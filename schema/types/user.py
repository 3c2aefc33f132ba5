"""User."""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import strawberry

from db import orders as db_orders
from db import posts as db_posts
from db import users as db_users
from db.rows import DbRow, columns
from schema.construct import constructor
from schema.context import Info
from schema.errors import Forbidden
from schema.pagination import Connection
from schema.relationships import ReadAhead, as_read, column_unless_read, connection, related
from schema.types.lists import order_list, post_list
from schema.types.node import Node

if TYPE_CHECKING:
    from schema.types.order import OrderConnection
    from schema.types.post import PostConnection


# Each attribute's column in a users row, in `from_row`'s order.
_USER_ROW = {
    "pk": "id",
    "username": "username",
    "full_name": "full_name",
    "created_at": "created_at",
    "_email": "email",
}


@functools.cache
def _user_columns(prefix: str) -> Callable[[DbRow], tuple[Any, ...]]:
    return columns(*_USER_ROW.values(), prefix=prefix)


def _published(published: bool | None = None) -> Mapping[str, Hashable]:
    return {"where": db_posts.PostFilter(published=published)}


def _themselves_or_admin(users: Sequence[User], info: Info) -> None:
    access = info.context.loaders.access
    if not all(access.may_see_private(user.pk) for user in users):
        raise Forbidden("Only the user themself and admins may see a user's orders")


def _visible_email(root: User, info: Info) -> str | None:
    return root._email if info.context.loaders.access.may_see_private(root.pk) else None


@strawberry.type
class User(Node):
    # An answer read straight off the rows reads these (schema/executor/planning.py).
    ROW_COLUMNS: ClassVar[Mapping[str, str]] = _USER_ROW
    username: str
    full_name: str | None
    created_at: datetime = column_unless_read(db_users.CREATED_AT_UNREAD)
    _email: strawberry.Private[str]
    # What a lookup of this user read ahead for its fields (READ_AHEAD), if anything.
    _ahead: strawberry.Private[ReadAhead | None]

    @classmethod
    def from_row(cls, row: DbRow, prefix: str = "") -> User:
        """From a users row, or from the columns of one joined under `prefix`."""
        pk, username, full_name, created_at, email = _user_columns(prefix)(row)
        return _new_user(
            pk=pk,
            username=username,
            full_name=full_name,
            created_at=created_at,
            _email=email,
            _ahead=None,
        )

    email: str | None = strawberry.field(
        resolver=_visible_email,
        description="Visible to the user themself and to admins; null otherwise.",
    )
    post_count: int = related(
        db_posts.post_counts_by_author_ids,
        arguments=_published,
        make=as_read,
        description="Posts of this user that the viewer may see.",
    )
    posts: Annotated[PostConnection, strawberry.lazy("schema.types.post")] = connection(
        db_posts.post_pages_by_author_ids, db_posts.post_counts_by_author_ids, arguments=post_list
    )
    orders: Annotated[OrderConnection, strawberry.lazy("schema.types.order")] = connection(
        db_orders.order_pages_by_customer_ids,
        db_orders.order_counts_by_customer_ids,
        arguments=order_list,
        allow=_themselves_or_admin,
        description="Only the user themself and admins; FORBIDDEN for anyone else.",
    )


_new_user = constructor(User)


@strawberry.type
class UserConnection(Connection[User]):
    pass
