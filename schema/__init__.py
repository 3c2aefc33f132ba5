"""The GraphQL schema: types, loaders and resolvers over db/."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig

from schema.errors import ErrorCodes
from schema.mutations import Mutation
from schema.query import Query
from schema.subscription import Subscription
from schema.types.order import Order
from schema.types.post import Post
from schema.types.product import Product
from schema.types.tag import Tag
from schema.types.user import User


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Logged by ErrorCodes instead: only the unexpected ones, with the request id."""


def build_schema(query: type = Query) -> Schema:
    """The API's schema; `query` may be a subclass of Query with more fields."""
    return Schema(
        query=query,
        mutation=Mutation,
        subscription=Subscription,
        types=[User, Post, Tag, Product, Order],
        config=StrawberryConfig(),
        extensions=[
            lambda: ParserCache(maxsize=1024),
            lambda: ValidationCache(maxsize=1024),
            ErrorCodes,
        ],
    )
