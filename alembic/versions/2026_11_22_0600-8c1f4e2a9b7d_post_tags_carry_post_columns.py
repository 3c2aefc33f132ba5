"""post_tags carry their post's created_at, published and author_id, kept by triggers.

A tag's newest visible posts (Tag.posts) and its visible count (Tag.postCount)
then come from one index on post_tags instead of a join that reads every post of
the tag. BEFORE INSERT fills the copies (COPY fires it too); an UPDATE of those
columns on posts rewrites them.

Revision ID: 8c1f4e2a9b7d
Revises: 5d62061187ff
Create Date: 2026-11-22 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "8c1f4e2a9b7d"
down_revision: str | None = "5d62061187ff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "post_tags",
        sa.Column(
            "post_created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.add_column(
        "post_tags",
        sa.Column("post_published", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column(
        "post_tags",
        sa.Column("post_author_id", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.execute(
        """
        UPDATE post_tags SET post_created_at = p.created_at,
                             post_published = p.published,
                             post_author_id = p.author_id
        FROM posts p WHERE p.id = post_tags.post_id
        """
    )
    op.execute(
        """
        CREATE FUNCTION post_tags_copy_post() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            post posts%ROWTYPE;
        BEGIN
            SELECT * INTO post FROM posts WHERE id = NEW.post_id;
            -- No such post: keep the defaults and let the foreign key refuse the row.
            IF FOUND THEN
                NEW.post_created_at := post.created_at;
                NEW.post_published := post.published;
                NEW.post_author_id := post.author_id;
            END IF;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER post_tags_copy_post BEFORE INSERT OR UPDATE OF post_id ON post_tags
        FOR EACH ROW EXECUTE FUNCTION post_tags_copy_post()
        """
    )
    op.execute(
        """
        CREATE FUNCTION posts_sync_post_tags() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE post_tags SET post_created_at = NEW.created_at,
                                 post_published = NEW.published,
                                 post_author_id = NEW.author_id
             WHERE post_id = NEW.id;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER posts_sync_post_tags AFTER UPDATE OF created_at, published, author_id
        ON posts FOR EACH ROW
        WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at
              OR OLD.published IS DISTINCT FROM NEW.published
              OR OLD.author_id IS DISTINCT FROM NEW.author_id)
        EXECUTE FUNCTION posts_sync_post_tags()
        """
    )
    op.create_index(
        op.f("ix_post_tags_tag_id_post_created_at_post_id"),
        "post_tags",
        ["tag_id", "post_created_at", "post_id"],
        unique=False,
        postgresql_include=["post_published", "post_author_id"],
    )
    op.drop_index(op.f("ix_post_tags_tag_id_post_id"), table_name="post_tags")


def downgrade() -> None:
    op.create_index(
        op.f("ix_post_tags_tag_id_post_id"), "post_tags", ["tag_id", "post_id"], unique=False
    )
    op.drop_index(op.f("ix_post_tags_tag_id_post_created_at_post_id"), table_name="post_tags")
    op.execute("DROP TRIGGER posts_sync_post_tags ON posts")
    op.execute("DROP FUNCTION posts_sync_post_tags()")
    op.execute("DROP TRIGGER post_tags_copy_post ON post_tags")
    op.execute("DROP FUNCTION post_tags_copy_post()")
    op.drop_column("post_tags", "post_author_id")
    op.drop_column("post_tags", "post_published")
    op.drop_column("post_tags", "post_created_at")
