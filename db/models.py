"""SQLAlchemy models: one class per table of the database contract, plus auth tokens and
sign-in throttling."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import cast

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class OrderStatus(enum.Enum):
    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    username: Mapped[str] = mapped_column(String(50))
    email: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str | None] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    is_admin: Mapped[bool] = mapped_column(server_default=text("false"))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("uq_users_username_lower", func.lower(username), unique=True),
        Index("uq_users_email_lower", func.lower(email), unique=True),
        Index(None, "username", "id"),
    )


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    author_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    published: Mapped[bool] = mapped_column(server_default=text("false"))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("length(title) > 0", name="title_not_empty"),
        # One index per ordering the API pages by; btree scans serve both directions.
        Index(None, "author_id", "created_at", "id"),
        Index(None, "created_at", "id"),
        Index(None, "title", "id"),
        # A viewer's own drafts, counted live on top of the maintained counts (db/counts.py).
        Index("ix_posts_author_id_drafts", "author_id", postgresql_where=text("NOT published")),
    )


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


class PostTag(Base):
    __tablename__ = "post_tags"

    post_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = _now()
    # Copies of the post's columns, kept by triggers (see the revision that adds them),
    # so that a tag's newest visible posts and its count come from one index on
    # post_tags, without reading every post of the tag. Defaults only for COPY: the
    # trigger overwrites them on every insert.
    post_created_at: Mapped[datetime] = _now()
    post_published: Mapped[bool] = mapped_column(server_default=text("false"))
    post_author_id: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # A copy of the tag's name, kept by triggers the same way, so that a post's tags
    # by name are one index-only scan, without probing tags and sorting per post.
    tag_name: Mapped[str] = mapped_column(String(50), server_default=text("''"))

    __table_args__ = (
        Index(
            None,
            "tag_id",
            "post_created_at",
            "post_id",
            postgresql_include=["post_published", "post_author_id"],
        ),
        Index(None, "post_id", "tag_name", "tag_id"),
    )


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    stock: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime] = _now()

    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        Index(None, "name", "id"),
    )


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="RESTRICT"))
    status: Mapped[OrderStatus] = mapped_column(
        Enum(
            OrderStatus,
            name="order_status",
            values_callable=lambda e: [m.value for m in e],
        ),
        server_default=text("'pending'"),
    )
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()

    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        Index(None, "user_id", "created_at", "id"),
        Index(None, "created_at", "id"),
    )


class OrderItem(Base):
    __tablename__ = "order_items"

    order_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("products.id", ondelete="RESTRICT"), primary_key=True
    )
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(10, 2))

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
        Index(None, "product_id"),
    )


class AuthToken(Base):
    """A bearer token, stored only as its SHA-256 hash."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginThrottle(Base):
    """A throttling counter (db/throttle.py): one per login name or client address for
    failed sign-ins, one per client address for sign-ups."""

    __tablename__ = "login_throttle"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    # SHA-256 (hex) of the normalised login name or client address.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Attempts within the window (failures, and attempts still being verified).
    attempts: Mapped[list[datetime]] = mapped_column(
        ARRAY(DateTime(timezone=True)), server_default=text("'{}'")
    )
    updated_at: Mapped[datetime] = _now()

    __table_args__ = (
        CheckConstraint("kind IN ('account', 'address', 'sign_up')", name="kind_known"),
        Index(None, "updated_at"),
    )


class RowCount(Base):
    """Counts kept by triggers (revision e91d3b5a7c20; db/counts.py reads them): per
    subject and key, the rows (`n`) and, for posts, the published ones. One count is
    the sum of its slots, one per writer's backend pid mod 16, so that concurrent
    writers do not queue on one row."""

    __tablename__ = "row_counts"

    subject: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    published: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


# Core tables for the batch reads: rows, not ORM instances, on the hot path.
users = cast(Table, User.__table__)
posts = cast(Table, Post.__table__)
tags = cast(Table, Tag.__table__)
post_tags = cast(Table, PostTag.__table__)
products = cast(Table, Product.__table__)
orders = cast(Table, Order.__table__)
order_items = cast(Table, OrderItem.__table__)
auth_tokens = cast(Table, AuthToken.__table__)
row_counts = cast(Table, RowCount.__table__)


class PersistedQuery(Base):
    """A document registered by Apollo's automatic persisted queries, by its SHA-256.

    Shared by every instance (API.md, "Several instances"); each keeps a cache.
    """

    __tablename__ = "persisted_queries"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    query: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()


persisted_queries = cast(Table, PersistedQuery.__table__)

login_throttle = cast(Table, LoginThrottle.__table__)
