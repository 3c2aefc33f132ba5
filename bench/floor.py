"""The floor: the least a server can do to answer the seven bench queries.

A bare ASGI function (no framework, no GraphQL), uvicorn, an asyncpg pool and orjson. It
reads the request's `operationName` and `variables`, runs one hand-written SQL statement
that builds Storefront's exact response JSON inside PostgreSQL, and sends it. The orders
query checks the bearer token in the same statement (admins only), as a real server must;
the others ignore a token, as they answer the same whoever asks (bench/README.md).

    python bench/floor.py --port 18003 --dsn 'postgresql://postgres@/storefront_bench?host=…'
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import orjson
import uvicorn

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _tags(post: str) -> str:
    return f"""(SELECT coalesce(json_agg(json_build_object('name', t.name) ORDER BY t.name), '[]')
        FROM post_tags pt JOIN tags t ON t.id = pt.tag_id WHERE pt.post_id = {post}.id)"""


def _edges(node: str, order: str) -> str:
    return f"coalesce(json_agg(json_build_object('node', {node}) ORDER BY {order}), '[]')"


NEWEST = "p.created_at DESC, p.id DESC"
POST_WITH_TAGS = f"json_build_object('title', p.title, 'tags', {_tags('p')})"
AUTHOR = "json_build_object('username', u.username)"

FEED = f"""
SELECT json_build_object('posts', json_build_object('edges', {
    _edges(f"json_build_object('title', p.title, 'author', {AUTHOR}, 'tags', {_tags('p')})", NEWEST)
}))
FROM (SELECT id, title, author_id, created_at FROM posts WHERE published
      ORDER BY created_at DESC, id DESC LIMIT 50) p
JOIN users u ON u.id = p.author_id"""

USER_PAGE = f"""
SELECT json_build_object('user', (
  SELECT json_build_object('posts', json_build_object('edges', (
    SELECT {_edges(POST_WITH_TAGS, NEWEST)}
    FROM (SELECT id, title, created_at FROM posts WHERE author_id = u.id AND published
          ORDER BY created_at DESC, id DESC LIMIT 20) p)))
  FROM users u WHERE lower(u.username) = lower($1)))"""

# (g): (b) with the user's count of published posts, counted (as (e) counts a tag's).
PROFILE = f"""
SELECT json_build_object('user', (
  SELECT json_build_object(
    'postCount', (SELECT count(*) FROM posts WHERE author_id = u.id AND published),
    'posts', json_build_object('edges', (
      SELECT {_edges(POST_WITH_TAGS, NEWEST)}
      FROM (SELECT id, title, created_at FROM posts WHERE author_id = u.id AND published
            ORDER BY created_at DESC, id DESC LIMIT 20) p)))
  FROM users u WHERE lower(u.username) = lower($1)))"""

USER_WITH_POSTS = f"""json_build_object(
  'username', u.username,
  'posts', json_build_object('edges', (
    SELECT {_edges(POST_WITH_TAGS, NEWEST)}
    FROM (SELECT id, title, created_at FROM posts WHERE author_id = u.id AND published
          ORDER BY created_at DESC, id DESC LIMIT 5) p)))"""

USERS = f"""
SELECT json_build_object('users', json_build_object('edges', {
    _edges(USER_WITH_POSTS, "u.username, u.id")
}))
FROM (SELECT id, username FROM users ORDER BY username, id LIMIT 20) u"""

ORDER_NODE = f"""json_build_object('customer', {AUTHOR}, 'items', i.items,
                 'itemCount', i.item_count, 'total', i.total::text)"""

ORDERS = f"""
WITH viewer AS (
  SELECT u.is_admin FROM auth_tokens a JOIN users u ON u.id = a.user_id
  WHERE a.token_hash = $1 AND a.revoked_at IS NULL AND a.expires_at > now() AND u.is_active)
SELECT CASE WHEN (SELECT bool_or(is_admin) FROM viewer) THEN
  json_build_object('orders', json_build_object('edges', (
    SELECT {_edges(ORDER_NODE, "o.created_at DESC, o.id DESC")}
    FROM (SELECT id, user_id, created_at FROM orders ORDER BY created_at DESC, id DESC LIMIT 20) o
    JOIN users u ON u.id = o.user_id
    CROSS JOIN LATERAL (
      SELECT coalesce(json_agg(json_build_object(
               'quantity', oi.quantity, 'unitPrice', oi.unit_price::text,
               'product', json_build_object('name', pr.name))
             ORDER BY pr.name, pr.id), '[]') AS items,
             coalesce(sum(oi.quantity), 0)::int AS item_count,
             coalesce(sum(oi.quantity * oi.unit_price), 0) AS total
      FROM order_items oi JOIN products pr ON pr.id = oi.product_id
      WHERE oi.order_id = o.id) i)))
END"""

TAG_POSTS = f"""(SELECT {_edges(f"json_build_object('title', p.title, 'author', {AUTHOR})", NEWEST)}
    FROM (SELECT p.id, p.title, p.author_id, p.created_at
          FROM post_tags pt JOIN posts p ON p.id = pt.post_id
          WHERE pt.tag_id = t.id AND p.published
          ORDER BY p.created_at DESC, p.id DESC LIMIT 3) p
    JOIN users u ON u.id = p.author_id)"""

TAG_NODE = f"""json_build_object('name', t.name,
    'postCount', (SELECT count(*) FROM post_tags pt JOIN posts p ON p.id = pt.post_id
                  WHERE pt.tag_id = t.id AND p.published),
    'posts', json_build_object('edges', {TAG_POSTS}))"""

TAGS = f"""
SELECT json_build_object('tags', json_build_object('edges', {_edges(TAG_NODE, "t.name")}))
FROM (SELECT id, name FROM tags ORDER BY name LIMIT 20) t"""

POST = f"""
SELECT json_build_object('post', (
  SELECT json_build_object('title', p.title, 'body', p.body, 'author', {AUTHOR},
                           'tags', {_tags("p")})
  FROM posts p JOIN users u ON u.id = p.author_id WHERE p.id = $1 AND p.published))"""

# operationName -> (SQL, how to get its parameters from (variables, bearer token))
Handler = tuple[str, Callable[[dict[str, Any], str | None], list[Any]]]
HANDLERS: dict[str, Handler] = {
    "Feed": (FEED, lambda v, t: []),
    "UserPage": (USER_PAGE, lambda v, t: [v["username"]]),
    "Users": (USERS, lambda v, t: []),
    "Orders": (ORDERS, lambda v, t: [hashlib.sha256((t or "").encode()).hexdigest()]),
    "Tags": (TAGS, lambda v, t: []),
    "Post": (POST, lambda v, t: [int(v["rowId"])]),
    "Profile": (PROFILE, lambda v, t: [v["username"]]),
}

JSON_HEADERS = [(b"content-type", b"application/json")]


class Floor:
    def __init__(self, dsn: str, pool_size: int) -> None:
        self.dsn = dsn
        self.pool_size = pool_size
        self.pool: asyncpg.Pool | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, payload = await self._answer(body, _bearer(scope))
        await send({"type": "http.response.start", "status": status, "headers": JSON_HEADERS})
        await send({"type": "http.response.body", "body": payload})

    async def _answer(self, body: bytes, token: str | None) -> tuple[int, bytes]:
        assert self.pool is not None
        try:
            request = orjson.loads(body)
            sql, params = HANDLERS[request["operationName"]]
            args = params(request.get("variables") or {}, token)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return 400, b'{"errors":[{"message":"not one of the floor\'s seven queries"}]}'
        data: str | None = await self.pool.fetchval(sql, *args)
        if data is None:
            return 200, b'{"data":null,"errors":[{"message":"forbidden"}]}'
        return 200, b'{"data":' + data.encode() + b"}"

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.pool = await asyncpg.create_pool(
                    self.dsn, min_size=self.pool_size, max_size=self.pool_size
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=18003)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--pool-size", type=int, default=10)
    args = parser.parse_args()
    uvicorn.run(
        Floor(args.dsn, args.pool_size),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        lifespan="on",
    )


if __name__ == "__main__":
    main()
