"""The GraphQL schema: types, loaders and resolvers over db/."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig

from schema.documents import DocumentChecks, Documents
from schema.errors import ErrorCodes
from schema.executor.compat import graphql_schema
from schema.limits import Limits
from schema.mutations import Mutation
from schema.query import Query
from schema.scalars import SCALARS
from schema.subscription import Subscription
from schema.types.order import Order
from schema.types.post import Post
from schema.types.product import Product
from schema.types.tag import Tag
from schema.types.user import User


class Schema(strawberry.Schema):
    documents: Documents

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Logged by ErrorCodes instead: only the unexpected ones, with the request id."""


def build_schema(
    limits: Limits | None = None,
    trusted: Collection[str] | None = None,
    *,
    query: type = Query,
) -> Schema:
    """The served schema; every document it runs is held to `limits` (schema/limits.py),
    and in trusted-documents mode must have its SHA-256 in `trusted`. `query` may be a
    subclass of Query with more fields (the tests add slow ones)."""
    schema = Schema(
        query=query,
        mutation=Mutation,
        subscription=Subscription,
        types=[User, Post, Tag, Product, Order],
        config=StrawberryConfig(scalar_map=SCALARS),
        extensions=[DocumentChecks, ErrorCodes],
    )
    schema.documents = Documents(graphql_schema(schema), limits or Limits(), trusted)
    return schema
