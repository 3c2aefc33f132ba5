"""The Query root."""

from __future__ import annotations

import asyncio

import strawberry

from db import orders, posts, products, tags, users
from schema.context import Info
from schema.errors import BadUserInput, Unauthenticated
from schema.ids import decode_id, decode_id_of
from schema.loaders import maker
from schema.pagination import EDGE_NODE, page_request, top_level
from schema.types.node import ORDERS_NEWEST, Node, OrderStatus, PostOrder
from schema.types.order import Order, OrderConnection, order_relations
from schema.types.post import (
    Post,
    PostConnection,
    PostFilter,
    post_list,
    post_relations,
)
from schema.types.product import Product, ProductConnection
from schema.types.tag import Tag, TagConnection
from schema.types.user import User, UserConnection

MAX_NODES = 100


async def load_node(info: Info, global_id: str) -> Node | None:
    """Any Node by its global ID; None for a malformed ID, an unknown type or a hidden row."""
    decoded = decode_id(global_id)
    if decoded is None:
        return None
    type_name, pk = decoded
    loaders = info.context.loaders
    if type_name == "User":
        row = await loaders.user.load(pk)
        return None if row is None else User.from_row(row)
    if type_name == "Post":
        relations = post_relations(info)
        row = await loaders.post_with(relations).load(pk)
        return None if row is None else Post.from_row(row, relations)
    if type_name == "Tag":
        row = await loaders.tag.load(pk)
        return None if row is None else Tag.from_row(row)
    if type_name == "Product":
        row = await loaders.product.load(pk)
        return None if row is None else Product.from_row(row)
    order = order_relations(info)
    row = await loaders.order_with(order).load(pk)
    return None if row is None else Order.from_row(row, order)


@strawberry.type
class Query:
    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await load_node(info, id)

    @strawberry.field
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise BadUserInput(f"`ids` may name at most {MAX_NODES} nodes", argument="ids")
        # Gathered, so that the loaders batch every ID of a type into one statement.
        return list(await asyncio.gather(*(load_node(info, global_id) for global_id in ids)))

    @strawberry.field(description="The signed-in user, or null.")
    async def viewer(self, info: Info) -> User | None:
        viewer = info.context.viewer
        if viewer is None:
            return None
        row = await info.context.loaders.user.load(viewer.user_id)
        return None if row is None else User.from_row(row)

    @strawberry.field
    async def user(self, info: Info, username: str) -> User | None:
        row = await info.context.loaders.read(users.user_by_username, username)
        return None if row is None else User.from_row(row)

    @strawberry.field(description="Ordered by username.")
    async def users(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        search: str | None = None,
    ) -> UserConnection:
        ordering = users.BY_USERNAME
        request = page_request(ordering, first=first, after=after, last=last, before=before)
        return await top_level(
            UserConnection, info.context.loaders, request, ordering, User.from_row,
            users.users_page, users.users_count, search=search,
        )  # fmt: skip

    @strawberry.field
    async def post(self, info: Info, id: strawberry.ID) -> Post | None:
        pk = decode_id_of(id, "Post")
        if pk is None:
            return None
        relations = post_relations(info)
        row = await info.context.loaders.post_with(relations).load(pk)
        return None if row is None else Post.from_row(row, relations)

    @strawberry.field
    async def posts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: PostFilter | None = None,
        order_by: PostOrder | None = PostOrder.NEWEST,
    ) -> PostConnection:
        ordering, request, where = post_list(first, after, last, before, filter, order_by)
        loaders, relations = info.context.loaders, post_relations(info, *EDGE_NODE)
        return await top_level(
            PostConnection, loaders, request, ordering, maker(Post.from_row, relations),
            posts.posts_page, posts.posts_count, relations, where=where, access=loaders.access,
        )  # fmt: skip

    @strawberry.field
    async def tag(self, info: Info, name: str) -> Tag | None:
        row = await info.context.loaders.read(tags.tag_by_name, name)
        return None if row is None else Tag.from_row(row)

    @strawberry.field(description="Ordered by name.")
    async def tags(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
    ) -> TagConnection:
        ordering = tags.BY_NAME
        request = page_request(ordering, first=first, after=after)
        return await top_level(
            TagConnection, info.context.loaders, request, ordering, Tag.from_row,
            tags.tags_page, tags.tags_count, search=search,
        )  # fmt: skip

    @strawberry.field
    async def product(self, info: Info, sku: str) -> Product | None:
        row = await info.context.loaders.read(products.product_by_sku, sku)
        return None if row is None else Product.from_row(row)

    @strawberry.field(description="Ordered by name, then id.")
    async def products(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
        in_stock: bool | None = None,
    ) -> ProductConnection:
        ordering = products.BY_NAME
        request = page_request(ordering, first=first, after=after)
        return await top_level(
            ProductConnection, info.context.loaders, request, ordering, Product.from_row,
            products.products_page, products.products_count, search=search, in_stock=in_stock,
        )  # fmt: skip

    @strawberry.field(
        description="Admins see every order, other signed-in users their own; "
        "anonymous callers get UNAUTHENTICATED. Newest first."
    )
    async def orders(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: OrderStatus | None = None,
    ) -> OrderConnection:
        if info.context.viewer is None:
            raise Unauthenticated("Sign in to see orders")
        request = page_request(ORDERS_NEWEST, first=first, after=after)
        loaders, relations = info.context.loaders, order_relations(info, *EDGE_NODE)
        db_status = status.db if status is not None else None
        return await top_level(
            OrderConnection, loaders, request, ORDERS_NEWEST, maker(Order.from_row, relations),
            orders.orders_page, orders.orders_count, relations, status=db_status,
            access=loaders.access,
        )  # fmt: skip
