"""The Query root."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import strawberry

from db import orders as db_orders
from db import posts as db_posts
from db import products as db_products
from db import tags as db_tags
from db import users as db_users
from schema.context import Info
from schema.errors import BadUserInput, Unauthenticated
from schema.ids import decode_id
from schema.lookahead import READS_ALONE
from schema.lookups import LOOKUP, ById
from schema.pagination import page_request
from schema.relationships import (
    READS_AHEAD,
    ListAhead,
    Listing,
    page_ahead,
    root_list,
    value_ahead,
)
from schema.types.lists import order_list, post_list
from schema.types.node import Node
from schema.types.order import Order, OrderConnection
from schema.types.post import Post, PostConnection
from schema.types.product import Product, ProductConnection
from schema.types.tag import Tag, TagConnection
from schema.types.user import User, UserConnection

MAX_NODES = 100


# Each node type's lookup by primary key (`node`, `nodes`, `viewer`; `post` answers
# off its row with it too).
USER_BY_ID = ById(User, db_users.users_by_ids)
POST_BY_ID = ById(Post, db_posts.posts_by_ids)
_BY_TYPE = {
    "User": USER_BY_ID,
    "Post": POST_BY_ID,
    "Tag": ById(Tag, db_tags.tags_by_ids),
    "Product": ById(Product, db_products.products_by_ids),
    "Order": ById(Order, db_orders.orders_by_ids),
}


async def load_node(info: Info, global_id: str) -> Node | None:
    """Any Node by its global ID; None for a malformed ID, an unknown type or a hidden row."""
    decoded = decode_id(global_id)
    if decoded is None:
        return None
    type_name, pk = decoded
    node: Node | None = await _BY_TYPE[type_name].load(info, pk)
    return node


def _users(
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    search: str | None = None,
) -> Listing:
    request = page_request(db_users.BY_USERNAME, first=first, after=after, last=last, before=before)
    return Listing(request, db_users.BY_USERNAME, {"search": search})


def _tags(first: int | None = None, after: str | None = None, search: str | None = None) -> Listing:
    request = page_request(db_tags.BY_NAME, first=first, after=after)
    return Listing(request, db_tags.BY_NAME, {"search": search})


def _products(
    first: int | None = None,
    after: str | None = None,
    search: str | None = None,
    in_stock: bool | None = None,
) -> Listing:
    request = page_request(db_products.BY_NAME, first=first, after=after)
    return Listing(request, db_products.BY_NAME, {"search": search, "in_stock": in_stock})


def _signed_in(roots: Sequence[Any], info: Info) -> None:
    if info.context.viewer is None:
        raise Unauthenticated("Sign in to see orders")


async def _node(root: object, info: Info, id: strawberry.ID) -> Node | None:
    return await load_node(info, id)


async def _nodes(root: object, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
    if len(ids) > MAX_NODES:
        raise BadUserInput(f"`ids` may name at most {MAX_NODES} nodes", argument="ids")
    # Gathered, so that the loaders batch every ID of a type into one statement.
    return list(await asyncio.gather(*(load_node(info, global_id) for global_id in ids)))


async def _viewer(root: object, info: Info) -> User | None:
    viewer = info.context.viewer
    if viewer is None:
        return None
    user: User | None = await USER_BY_ID.load(info, viewer.user_id)
    return user


async def _user(root: object, info: Info, username: str) -> User | None:
    loaders = info.context.loaders
    ahead = page_ahead(info, User, "posts")
    if ahead is None:
        row = await loaders.read(db_users.user_by_username, username)
        return None if row is None else User.from_row(row)
    # A user's page (the bench's b and g) in the lookup's own statement: one round trip,
    # with their count of posts too when it is asked for beside it.
    count = value_ahead(info, User, "postCount")
    count_of = None if count is None else db_posts.CountOf.of(count.arguments.get("where"))
    listing = ahead.listing
    row, page = await loaders.read(
        db_posts.author_with_post_page,
        username,
        listing.request,
        ordering=listing.ordering,
        access=loaders.access,
        relations=ahead.relations,
        count=count_of,
        **listing.filters,
    )
    if row is None:
        return None
    user = User.from_row(row, db_posts.AUTHOR_PAGE_PREFIX)
    # Primed for the walk, and kept on the user for an answer built off it.
    ahead.prime(loaders, [(user.pk, page)])
    connect = ahead.connection.connector(loaders, listing, ahead.relations)
    user._ahead = {id(ahead.node): connect(user.pk, page)}
    if count is not None and count_of is not None:
        post_count = int(row[db_posts.AUTHOR_PAGE_PREFIX + db_posts.POST_COUNT])
        count.prime(loaders, user.pk, post_count)
        user._ahead[id(count.node)] = post_count
    return user


async def _post(root: object, info: Info, id: strawberry.ID) -> Post | None:
    post: Post | None = await POST_BY_ID.resolve(info, id)
    return post


async def _tag(root: object, info: Info, name: str) -> Tag | None:
    row = await info.context.loaders.read(db_tags.tag_by_name, name)
    return None if row is None else Tag.from_row(row)


async def _product(root: object, info: Info, sku: str) -> Product | None:
    row = await info.context.loaders.read(db_products.product_by_sku, sku)
    return None if row is None else Product.from_row(row)


@strawberry.type
class Query:
    node: Node | None = strawberry.field(resolver=_node, metadata={READS_ALONE: True})
    nodes: list[Node | None] = strawberry.field(resolver=_nodes)
    viewer: User | None = strawberry.field(
        resolver=_viewer,
        description="The signed-in user, or null.",
        metadata={READS_ALONE: True},
    )
    user: User | None = strawberry.field(
        resolver=_user, metadata={READS_AHEAD: True, READS_ALONE: True}
    )
    users: UserConnection = root_list(
        db_users.users_page,
        db_users.users_count,
        arguments=_users,
        # The users' first page of posts, asked for alike of each, in the same statement.
        ahead=ListAhead("posts", db_posts.users_with_post_pages),
        description="Ordered by username.",
    )
    post: Post | None = strawberry.field(
        resolver=_post, metadata={READS_ALONE: True, LOOKUP: POST_BY_ID}
    )
    posts: PostConnection = root_list(
        db_posts.posts_page, db_posts.posts_count, arguments=post_list
    )
    tag: Tag | None = strawberry.field(resolver=_tag, metadata={READS_ALONE: True})
    tags: TagConnection = root_list(
        db_tags.tags_page, db_tags.tags_count, arguments=_tags, description="Ordered by name."
    )
    product: Product | None = strawberry.field(resolver=_product, metadata={READS_ALONE: True})
    products: ProductConnection = root_list(
        db_products.products_page,
        db_products.products_count,
        arguments=_products,
        description="Ordered by name, then id.",
    )
    orders: OrderConnection = root_list(
        db_orders.orders_page,
        db_orders.orders_count,
        arguments=order_list,
        allow=_signed_in,
        description="Admins see every order, other signed-in users their own; "
        "anonymous callers get UNAUTHENTICATED. Newest first.",
    )
