-- Computed columns PostGraphile needs to serve what Storefront computes in Python:
-- Tag.postCount, Tag.posts (newest visible first), Order.itemCount and Order.total.
-- Installed by the bench into the bench database only (never an Alembic migration),
-- in a schema of their own that `cli.py migrate --down base` never sees.
CREATE SCHEMA IF NOT EXISTS bench_pg;

-- Published posts only: the benchmark's queries are anonymous except for orders.
CREATE OR REPLACE FUNCTION bench_pg.tags_post_count(t public.tags) RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT count(*)::integer FROM public.post_tags pt JOIN public.posts p ON p.id = pt.post_id
  WHERE pt.tag_id = t.id AND p.published
$$;

CREATE OR REPLACE FUNCTION bench_pg.tags_newest_posts(t public.tags) RETURNS SETOF public.posts
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT p.* FROM public.post_tags pt JOIN public.posts p ON p.id = pt.post_id
  WHERE pt.tag_id = t.id AND p.published
  ORDER BY p.created_at DESC, p.id DESC
$$;

CREATE OR REPLACE FUNCTION bench_pg.orders_item_count(o public.orders) RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(sum(quantity), 0)::integer FROM public.order_items WHERE order_id = o.id
$$;

CREATE OR REPLACE FUNCTION bench_pg.orders_total(o public.orders) RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(sum(quantity * unit_price), 0) FROM public.order_items WHERE order_id = o.id
$$;
