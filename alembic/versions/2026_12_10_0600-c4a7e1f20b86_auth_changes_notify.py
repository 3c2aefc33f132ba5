"""Sign-in changes NOTIFY every instance: tokens revoked, expired early or deleted, and
users whose role or standing changed or who were deleted.

Each process caches verified tokens (db/sign_ins.py) and trusts its cache only while
it LISTENs on the `storefront_auth` channel; these triggers send, inside the
transaction that makes the change (so at its commit, and never if it rolls back),
what to drop: the token's id, or `user:<id>` for every token of a user. Whatever
makes the change (the API, `psql`, another tool), the caches hear of it.

Revision ID: c4a7e1f20b86
Revises: b7e2c4d9f013
Create Date: 2026-12-10 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "c4a7e1f20b86"
down_revision: str | None = "b7e2c4d9f013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION auth_tokens_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('storefront_auth', OLD.id::text);
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER auth_tokens_notify
        AFTER UPDATE OF revoked_at, expires_at, user_id, token_hash ON auth_tokens
        FOR EACH ROW
        WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
              OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
              OR OLD.user_id IS DISTINCT FROM NEW.user_id
              OR OLD.token_hash IS DISTINCT FROM NEW.token_hash)
        EXECUTE FUNCTION auth_tokens_notify()
        """
    )
    op.execute(
        """
        CREATE TRIGGER auth_tokens_notify_deleted AFTER DELETE ON auth_tokens
        FOR EACH ROW EXECUTE FUNCTION auth_tokens_notify()
        """
    )
    op.execute(
        """
        CREATE FUNCTION users_notify_auth() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('storefront_auth', 'user:' || OLD.id::text);
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER users_notify_auth AFTER UPDATE OF is_admin, is_active ON users
        FOR EACH ROW
        WHEN (OLD.is_admin IS DISTINCT FROM NEW.is_admin
              OR OLD.is_active IS DISTINCT FROM NEW.is_active)
        EXECUTE FUNCTION users_notify_auth()
        """
    )
    op.execute(
        """
        CREATE TRIGGER users_notify_auth_deleted AFTER DELETE ON users
        FOR EACH ROW EXECUTE FUNCTION users_notify_auth()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER users_notify_auth_deleted ON users")
    op.execute("DROP TRIGGER users_notify_auth ON users")
    op.execute("DROP FUNCTION users_notify_auth()")
    op.execute("DROP TRIGGER auth_tokens_notify_deleted ON auth_tokens")
    op.execute("DROP TRIGGER auth_tokens_notify ON auth_tokens")
    op.execute("DROP FUNCTION auth_tokens_notify()")
