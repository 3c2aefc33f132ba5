"""What the mutations share: user errors, payload types, and the checks before them."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

import strawberry

from db.accounts import Viewer
from db.validation import check_text
from schema.context import Info
from schema.errors import Forbidden, Unauthenticated
from schema.types.order import Order
from schema.types.post import Post
from schema.types.product import Product
from schema.types.user import User

Path = Sequence[str | int]


@strawberry.enum
class UserErrorCode(Enum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    TAKEN = "TAKEN"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    CONFLICT = "CONFLICT"
    FORBIDDEN = "FORBIDDEN"


@strawberry.type(description="A problem with a mutation's input that the caller can fix.")
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. ["input", "items", "0", "quantity"].'
    )
    message: str
    code: UserErrorCode


def user_error(code: UserErrorCode, message: str, field: Path | None) -> UserError:
    return UserError(
        field=None if field is None else [str(part) for part in field], message=message, code=code
    )


class Rejected(Exception):
    """Raised inside a mutation's transaction to roll it back and answer with user errors."""

    def __init__(self, errors: Sequence[UserError]) -> None:
        super().__init__(errors)
        self.errors = list(errors)

    @classmethod
    def one(cls, code: UserErrorCode, message: str, field: Path | None) -> Rejected:
        return cls([user_error(code, message, field)])


class Problems:
    """Collects validation problems, so that one answer names every one of them."""

    def __init__(self) -> None:
        self.errors: list[UserError] = []

    def add(self, code: UserErrorCode, message: str, field: Path | None) -> None:
        self.errors.append(user_error(code, message, field))

    def invalid(self, message: str, field: Path | None) -> None:
        self.add(UserErrorCode.INVALID, message, field)

    def text(self, value: str, field: Path) -> bool:
        """False, with an INVALID problem, for text PostgreSQL cannot store."""
        problem = check_text(value)
        if problem is not None:
            self.invalid(problem, field)
            return False
        return True

    def raise_any(self) -> None:
        if self.errors:
            raise Rejected(self.errors)


def require_viewer(info: Info) -> Viewer:
    """The signed-in viewer; UNAUTHENTICATED for anonymous callers."""
    viewer = info.context.viewer
    if viewer is None:
        raise Unauthenticated("Sign in to do this")
    return viewer


def require_admin(info: Info) -> Viewer:
    """The signed-in admin; UNAUTHENTICATED for anonymous callers, FORBIDDEN for others."""
    viewer = require_viewer(info)
    if not viewer.is_admin:
        raise Forbidden("Only admins may do this")
    return viewer


@strawberry.type
class AuthPayload:
    token: str | None = strawberry.field(
        default=None,
        description="Bearer token for the Authorization header; null when userErrors is not empty.",
    )
    user: User | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PostPayload:
    post: Post | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeletePostPayload:
    deleted_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ProductPayload:
    product: Product | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OrderPayload:
    order: Order | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
