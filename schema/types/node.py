"""The Node interface and the enums shared by several types."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

import strawberry

from db import orders, posts
from db.models import OrderStatus as DbOrderStatus
from db.paging import Ordering
from db.relations import NO_RELATIONS, Relations
from db.rows import DbRow
from schema.ids import encode_id

# Field metadata: the field is `encode_id(<its type's name>, pk)`, which an answer read
# straight off rows reads from the column of `pk` (schema/executor/planning.py).
ID_OF_PK = "storefront.id_of_pk"


@strawberry.interface(description="An object with a globally unique, opaque ID.")
class Node:
    pk: strawberry.Private[int]
    # The row the object was made from, and the relations that came in it, read by
    # the relationships that ride along (schema/relationships.py). Class defaults, not
    # dataclass fields: every object of every request pays for its __init__'s fields.
    if TYPE_CHECKING:
        row: DbRow | None = None
        joins: Relations = NO_RELATIONS
    else:
        row = None
        joins = NO_RELATIONS

    @strawberry.field(metadata={ID_OF_PK: True})
    def id(self) -> strawberry.ID:
        # Each implementing class is named as its GraphQL type.
        return strawberry.ID(encode_id(type(self).__name__, self.pk))


@strawberry.enum
class PostOrder(Enum):
    NEWEST = "NEWEST"
    OLDEST = "OLDEST"
    TITLE = "TITLE"

    @property
    def ordering(self) -> Ordering:
        return {"NEWEST": posts.NEWEST, "OLDEST": posts.OLDEST, "TITLE": posts.TITLE}[self.value]


@strawberry.enum
class OrderStatus(Enum):
    PENDING = "PENDING"
    PAID = "PAID"
    SHIPPED = "SHIPPED"
    CANCELLED = "CANCELLED"

    @property
    def db(self) -> DbOrderStatus:
        return DbOrderStatus[self.value]

    @classmethod
    def of(cls, status: DbOrderStatus | str) -> OrderStatus:
        """From the model's enum (a write's row) or its stored text (a read's row)."""
        return cls[DbOrderStatus(status).name]


ORDERS_NEWEST = orders.NEWEST
