"""What the write modules (db/writes_*.py) share: reading a constraint violation."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError


def violated_constraint(exc: IntegrityError) -> str | None:
    """The name of the constraint or unique index a failed statement violated, if known.

    SQLAlchemy's asyncpg adapter raises its DBAPI error `from` asyncpg's own, which
    carries the name the server reported (the naming convention in db/models.py).
    """
    cause = exc.orig.__cause__ if exc.orig is not None else None
    name = getattr(cause, "constraint_name", None)
    return name if isinstance(name, str) else None
