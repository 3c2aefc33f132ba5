"""The Mutation root: one module per family of mutations, merged here."""

from __future__ import annotations

import strawberry

from schema.mutations.auth import AuthMutation
from schema.mutations.orders import OrderMutation
from schema.mutations.posts import PostMutation
from schema.mutations.products import ProductMutation


@strawberry.type
class Mutation(AuthMutation, PostMutation, ProductMutation, OrderMutation):
    pass


__all__ = ["Mutation"]
