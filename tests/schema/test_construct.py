"""`constructor(cls)` makes what `cls(...)` makes, or is `cls` itself where it cannot."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from db.models import posts
from db.paging import Ordering
from schema.construct import constructor
from schema.pagination import Edge, PageInfo
from schema.types.node import OrderStatus
from schema.types.order import Order, OrderItem
from schema.types.post import Post
from schema.types.product import Product
from schema.types.tag import Tag
from schema.types.user import User

WHEN = datetime(2026, 12, 5, tzinfo=UTC)
ORDERING = Ordering("newest", (posts.c.created_at, posts.c.id), descending=True)
PRODUCT: dict[str, Any] = {
    "pk": 4,
    "sku": "SKU-4",
    "name": "Lamp",
    "price": Decimal("9.50"),
    "stock": 3,
}
CASES: list[tuple[type, dict[str, object]]] = [
    (Tag, {"pk": 1, "name": "python"}),
    (
        Post,
        {
            "pk": 2,
            "author_pk": 3,
            "title": "Hello",
            "body": "A body.",
            "published": True,
            "published_at": WHEN,
            "created_at": WHEN,
            "updated_at": None,
        },
    ),
    (
        User,
        {
            "pk": 3,
            "username": "ann",
            "full_name": None,
            "created_at": WHEN,
            "_email": "a@x",
            "_ahead": None,
        },
    ),
    (Product, PRODUCT),
    (OrderItem, {"product": Product(**PRODUCT), "quantity": 2, "unit_price": Decimal("9.50")}),
    (Order, {"pk": 5, "customer_pk": 3, "status": OrderStatus.PENDING, "created_at": WHEN}),
    (Edge, {"node": Tag(pk=1, name="python"), "_ordering": ORDERING, "_row": None}),
    (
        PageInfo,
        {
            "has_next_page": True,
            "has_previous_page": False,
            "_ordering": ORDERING,
            "_first": None,
            "_last": None,
        },
    ),
]


@pytest.mark.parametrize(("cls", "fields"), CASES, ids=[cls.__name__ for cls, _ in CASES])
def test_it_makes_what_the_class_makes(cls: type, fields: dict[str, object]) -> None:
    make = constructor(cls)

    made = make(**fields)

    assert make is not cls
    assert type(made) is cls
    assert vars(made) == vars(cls(**fields))


def test_a_missing_or_unknown_field_is_refused_as_the_class_refuses_it() -> None:
    make = constructor(Tag)

    with pytest.raises(TypeError, match="name"):
        make(pk=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="colour"):
        make(pk=1, name="python", colour="red")  # type: ignore[call-arg]


@dataclass
class Positional:
    a: int


@dataclass(kw_only=True)
class Fields:
    cls: int
    init: int
    made: int
    new: int


def test_fields_named_like_the_makers_own_names_are_made_right() -> None:
    make = constructor(Fields)

    made = make(cls=1, init=2, made=3, new=4)

    assert make is not Fields
    assert made == Fields(cls=1, init=2, made=3, new=4)


@dataclass(kw_only=True)
class WithDefault:
    a: int
    b: list[int] = field(default_factory=list)


class WithNew:
    def __new__(cls, *, a: int) -> WithNew:
        return super().__new__(cls)

    def __init__(self, *, a: int) -> None:
        self.a = a


class Meta(type):
    pass


class WithMetaclass(metaclass=Meta):
    def __init__(self, *, a: int) -> None:
        self.a = a


@dataclass(kw_only=True)
class Shadowing:
    _cls_: int
    _made_: int


@pytest.mark.parametrize("cls", [Positional, WithDefault, WithNew, WithMetaclass, Shadowing, int])
def test_any_other_class_is_left_as_it_is(cls: type) -> None:
    assert constructor(cls) is cls
