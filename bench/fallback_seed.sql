-- Bench-only stand-in for `app.py seed`, used only while db/seed.py does not exist.
-- Deterministic (arithmetic, no random()); scale from the setting bench.scale:
-- 2,000 users, 20,000 posts (4 in 5 published, 0-3 tags each), 200 tags,
-- 500 products, 10,000 orders of 1-4 lines per unit of scale. User 1 is `admin`.

INSERT INTO users (id, username, email, full_name, password_hash, is_admin, created_at)
SELECT i,
       CASE WHEN i = 1 THEN 'admin' ELSE 'user' || lpad(i::text, 6, '0') END,
       'user' || i || '@example.com',
       'User Number ' || i,
       current_setting('bench.hash'),
       i = 1,
       timestamptz '2025-01-01 00:00:00+00' + i * interval '1 minute'
FROM generate_series(1, 2000 * current_setting('bench.scale')::int) AS i;

INSERT INTO tags (id, name)
SELECT i, 'tag' || lpad(i::text, 3, '0') FROM generate_series(1, 200) AS i;

INSERT INTO posts (id, author_id, title, body, published, published_at, created_at)
SELECT i,
       1 + (i::bigint * 7919) % (2000 * current_setting('bench.scale')::int),
       'Post ' || i || ' on ' || (i % 97),
       repeat('Lorem ipsum dolor sit amet ' || i || '. ', 1 + i % 8),
       i % 5 <> 0,
       CASE WHEN i % 5 <> 0 THEN timestamptz '2025-02-01 00:00:00+00' + i * interval '7 minutes' END,
       timestamptz '2025-02-01 00:00:00+00' + i * interval '7 minutes'
FROM generate_series(1, 20000 * current_setting('bench.scale')::int) AS i;

INSERT INTO post_tags (post_id, tag_id)
SELECT p.i, 1 + (p.i * 13 + k * 37) % 200
FROM generate_series(1, 20000 * current_setting('bench.scale')::int) AS p(i),
     generate_series(0, 2) AS k
WHERE k < p.i % 4
ON CONFLICT DO NOTHING;

INSERT INTO products (id, sku, name, price, stock)
SELECT i, 'SKU-' || lpad(i::text, 6, '0'), 'Product ' || lpad(((i * 211) % 500)::text, 3, '0') || '-' || i,
       1 + ((i * 37) % 10000) / 100.0, 100000
FROM generate_series(1, 500) AS i;

INSERT INTO orders (id, user_id, status, created_at)
SELECT i,
       1 + (i::bigint * 104729) % (2000 * current_setting('bench.scale')::int),
       (ARRAY['pending', 'paid', 'shipped', 'cancelled']::order_status[])[1 + i % 4],
       timestamptz '2025-03-01 00:00:00+00' + i * interval '11 minutes'
FROM generate_series(1, 10000 * current_setting('bench.scale')::int) AS i;

INSERT INTO order_items (order_id, product_id, quantity, unit_price)
SELECT o.i, pr.id, 1 + (o.i + k) % 3, pr.price
FROM generate_series(1, 10000 * current_setting('bench.scale')::int) AS o(i),
     generate_series(0, 3) AS k,
     products pr
WHERE k <= o.i % 4 AND pr.id = 1 + (o.i * 17 + k * 53) % 500
ON CONFLICT DO NOTHING;

SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users));
SELECT setval(pg_get_serial_sequence('posts', 'id'), (SELECT max(id) FROM posts));
SELECT setval(pg_get_serial_sequence('tags', 'id'), (SELECT max(id) FROM tags));
SELECT setval(pg_get_serial_sequence('products', 'id'), (SELECT max(id) FROM products));
SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders));
