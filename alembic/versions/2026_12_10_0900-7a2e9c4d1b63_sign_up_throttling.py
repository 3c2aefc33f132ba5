"""Sign-ups are throttled per client address, in the sign-in throttle's table.

A new kind of counter row, `sign_up` (db/throttle.py): every sign-up costs a password
hash and tells whether a username or email is taken, so one address may make only so
many within the window. Only the CHECK on `kind` changes; a downgrade first deletes
the rows of the new kind, which the old CHECK would refuse.

Revision ID: 7a2e9c4d1b63
Revises: 5b8d2f6c1e47
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "7a2e9c4d1b63"
down_revision: str | None = "5b8d2f6c1e47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "ck_login_throttle_kind_known"


def upgrade() -> None:
    op.drop_constraint(op.f(CONSTRAINT), "login_throttle", type_="check")
    op.create_check_constraint(
        op.f(CONSTRAINT), "login_throttle", "kind IN ('account', 'address', 'sign_up')"
    )


def downgrade() -> None:
    # Held from the DELETE to the new CHECK: a sign-up counted in between would fail it.
    op.execute(sa.text("LOCK TABLE login_throttle IN ACCESS EXCLUSIVE MODE"))
    op.execute(sa.text("DELETE FROM login_throttle WHERE kind = 'sign_up'"))
    op.drop_constraint(op.f(CONSTRAINT), "login_throttle", type_="check")
    op.create_check_constraint(op.f(CONSTRAINT), "login_throttle", "kind IN ('account', 'address')")
