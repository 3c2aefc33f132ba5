"""Counts kept by triggers, so that postCount and an unfiltered list's totalCount cost
the same whatever the table's size.

`row_counts` holds, per subject and key, how many rows there are (`n`) and, for posts,
how many of them are published (`published`):

| subject  | key       | counts                                   |
|----------|-----------|------------------------------------------|
| posts    | 0         | every post                               |
| author   | user id   | the user's posts                         |
| tag      | tag id    | the tag's posts (post_tags rows)         |
| users, tags, products, orders | 0 | every row of that table     |
| customer | user id   | the user's orders                        |

Triggers change them in the transaction of the write that changes what they count
(`n = n + delta` under the row's lock, so they stay exact under concurrent writes),
whoever writes (the API, `COPY`, `psql`). A count is spread over 16 rows (`slot`, the
writer's backend pid mod 16) and read as their sum, so concurrent writers on different
connections do not queue on one row (every new post changes the `posts` count).

Lock order, so that two writers cannot deadlock on counters: within a statement
counters are changed in (subject, key) order, and a post's own counters (`author`,
`posts`) before its tags' (`tag`): its UPDATE trigger is named to fire before
posts_sync_post_tags, and its DELETE trigger runs BEFORE the cascade to post_tags.

After loading rows with triggers disabled, or a TRUNCATE of some of these tables but
not `row_counts`, `SELECT row_counts_rebuild()` recomputes every count.

Revision ID: e91d3b5a7c20
Revises: c4a7e1f20b86
Create Date: 2026-12-10 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "e91d3b5a7c20"
down_revision: str | None = "c4a7e1f20b86"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLOTS = 16
WHOLE_TABLES = ("users", "tags", "products")


def _add(deltas: str) -> str:
    """Adds `deltas` (rows of subject, key, n, published) to the counts, in key order."""
    return f"""
        INSERT INTO row_counts AS c (subject, key, slot, n, published)
        SELECT subject, key, pg_backend_pid() % {SLOTS}, sum(n), sum(published)
          FROM ({deltas}) AS d (subject, key, n, published)
         GROUP BY subject, key
        HAVING sum(n) <> 0 OR sum(published) <> 0
         ORDER BY subject, key
        ON CONFLICT (subject, key, slot)
        DO UPDATE SET n = c.n + EXCLUDED.n, published = c.published + EXCLUDED.published;"""


def _function(name: str, body: str, returns: str = "NULL") -> None:
    op.execute(
        f"""
        CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {body}
            RETURN {returns};
        END $$
        """
    )


def _statement_triggers(table: str, function: str, *, update: bool = False) -> None:
    events = [("inserted", "INSERT", "NEW TABLE AS new_rows")]
    events.append(("deleted", "DELETE", "OLD TABLE AS old_rows"))
    if update:
        events.append(("updated", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"))
    for suffix, event, tables in events:
        op.execute(
            f"""
            CREATE TRIGGER {table}_count_{suffix} AFTER {event} ON {table}
            REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION {function}()
            """
        )


def _rows(sign: str, source: str, columns: str) -> str:
    return f"SELECT {columns.replace('±', sign)} FROM {source}"


POST_TAG_DELTAS = "'tag'::text, tag_id, ±1, ±post_published::int"
ORDER_DELTAS = ("'orders'::text, 0::bigint, ±1, 0", "'customer'::text, user_id, ±1, 0")
POST_DELTAS = (
    "'posts'::text, 0::bigint, ±1, ±published::int",
    "'author'::text, author_id, ±1, ±published::int",
)


def _both(source: str, sign: str, columns: Sequence[str]) -> str:
    return " UNION ALL ".join(_rows(sign, source, c) for c in columns)


def _by_operation(columns: Sequence[str]) -> str:
    """A statement trigger's body: what its transition tables add and take away."""
    inserted = _both("new_rows", "", columns)
    deleted = _both("old_rows", "-", columns)
    return f"""
            IF TG_OP = 'INSERT' THEN {_add(inserted)}
            ELSIF TG_OP = 'DELETE' THEN {_add(deleted)}
            ELSE {_add(inserted + " UNION ALL " + deleted)}
            END IF;"""


REBUILD = f"""
    CREATE FUNCTION row_counts_rebuild() RETURNS void LANGUAGE sql AS $$
        DELETE FROM row_counts;
        INSERT INTO row_counts (subject, key, slot, n, published)
        SELECT subject, key, 0, n, published FROM (
            SELECT 'posts', 0::bigint, count(*), count(*) FILTER (WHERE published) FROM posts
            UNION ALL
            SELECT 'author', author_id, count(*), count(*) FILTER (WHERE published)
              FROM posts GROUP BY author_id
            UNION ALL
            SELECT 'tag', tag_id, count(*), count(*) FILTER (WHERE post_published)
              FROM post_tags GROUP BY tag_id
            UNION ALL
            SELECT 'orders', 0, count(*), 0 FROM orders
            UNION ALL
            SELECT 'customer', user_id, count(*), 0 FROM orders GROUP BY user_id
            UNION ALL
            {" UNION ALL ".join(f"SELECT '{t}', 0, count(*), 0 FROM {t}" for t in WHOLE_TABLES)}
        ) AS counts (subject, key, n, published)
        WHERE n <> 0;
    $$
"""


def upgrade() -> None:
    op.create_table(
        "row_counts",
        sa.Column("subject", sa.String(16), nullable=False),
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("n", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("published", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("subject", "key", "slot", name=op.f("pk_row_counts")),
    )
    # A viewer's own drafts, counted live on top of the maintained published counts.
    op.create_index(
        op.f("ix_posts_author_id_drafts"),
        "posts",
        ["author_id"],
        unique=False,
        postgresql_where=sa.text("NOT published"),
    )

    # posts: a new post is counted by the statement; a change of author or of published
    # row by row, before posts_sync_post_tags passes it on to the post's tags ('c' < 's');
    # a delete before it happens, so before its post_tags rows cascade.
    _function("posts_count", _by_operation(POST_DELTAS))
    op.execute(
        """
        CREATE TRIGGER posts_count_inserted AFTER INSERT ON posts
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION posts_count()
        """
    )
    changed = " UNION ALL ".join(
        [
            "SELECT 'posts'::text, 0::bigint, 0, NEW.published::int - OLD.published::int",
            "SELECT 'author', OLD.author_id, -1, -OLD.published::int",
            "SELECT 'author', NEW.author_id, 1, NEW.published::int",
        ]
    )
    _function("posts_count_changed", _add(changed))
    op.execute(
        """
        CREATE TRIGGER posts_count_changed AFTER UPDATE OF published, author_id ON posts
        FOR EACH ROW
        WHEN (OLD.published IS DISTINCT FROM NEW.published
              OR OLD.author_id IS DISTINCT FROM NEW.author_id)
        EXECUTE FUNCTION posts_count_changed()
        """
    )
    gone = " UNION ALL ".join(
        [
            "SELECT 'posts'::text, 0::bigint, -1, -OLD.published::int",
            "SELECT 'author', OLD.author_id, -1, -OLD.published::int",
        ]
    )
    _function("posts_count_deleting", _add(gone), returns="OLD")
    op.execute(
        """
        CREATE TRIGGER posts_count_deleting BEFORE DELETE ON posts
        FOR EACH ROW EXECUTE FUNCTION posts_count_deleting()
        """
    )

    _function("post_tags_count", _by_operation([POST_TAG_DELTAS]))
    _statement_triggers("post_tags", "post_tags_count", update=True)
    _function("orders_count", _by_operation(ORDER_DELTAS))
    _statement_triggers("orders", "orders_count", update=True)
    _function("table_count", _by_operation(["TG_TABLE_NAME::text, 0::bigint, ±1, 0"]))
    for table in WHOLE_TABLES:
        _statement_triggers(table, "table_count")

    op.execute(REBUILD)
    op.execute("SELECT row_counts_rebuild()")


def downgrade() -> None:
    for table in WHOLE_TABLES:
        op.execute(f"DROP TRIGGER {table}_count_inserted ON {table}")
        op.execute(f"DROP TRIGGER {table}_count_deleted ON {table}")
    for table in ("orders", "post_tags"):
        for suffix in ("inserted", "deleted", "updated"):
            op.execute(f"DROP TRIGGER {table}_count_{suffix} ON {table}")
    op.execute("DROP TRIGGER posts_count_deleting ON posts")
    op.execute("DROP TRIGGER posts_count_changed ON posts")
    op.execute("DROP TRIGGER posts_count_inserted ON posts")
    for function in (
        "row_counts_rebuild",
        "table_count",
        "orders_count",
        "post_tags_count",
        "posts_count_deleting",
        "posts_count_changed",
        "posts_count",
    ):
        op.execute(f"DROP FUNCTION {function}()")
    op.drop_index(op.f("ix_posts_author_id_drafts"), table_name="posts")
    op.drop_table("row_counts")
