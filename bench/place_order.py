"""placeOrder under load: throughput and latency, and stock that is exact afterwards.

Against a running server and the database it serves:

    DATABASE_URL=postgresql://... uv run python cli.py serve --port 8123
    DATABASE_URL=postgresql://... uv run python bench/place_order.py --url http://127.0.0.1:8123/graphql

For each concurrency (1 and 32 by default) and each shape, `--requests` orders of one
unit are placed as fast as the server answers:

- hot: every order takes the same product (every transaction queues on one row lock);
- spread: each order takes one of `--products` products, round robin.

The script makes its own customer, token and products (SKUs prefixed `BENCH-PO-`), and
deletes them at the end unless `--keep`. After each run it checks, in the database,
that every product's stock fell by exactly the units of the orders placed, and that
the orders the server said it placed are the orders that exist.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from db.accounts import issue_token
from db.engine import make_sessionmaker
from db.models import auth_tokens, order_items, orders, products, users
from schema.ids import encode_id

PLACE = """mutation BenchPlaceOrder($input: PlaceOrderInput!) {
  placeOrder(input: $input) { order { id } userErrors { code } }
}"""


@dataclass
class Run:
    shape: str
    concurrency: int
    product_ids: list[int]
    latencies: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    placed: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    def line(self) -> str:
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000
        rate = len(self.placed) / self.elapsed if self.elapsed else 0.0
        answered = len(self.latencies) / self.elapsed if self.elapsed else 0.0
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
        return (
            f"{self.shape:<6} c={self.concurrency:<3} {rate:8.1f} orders/s "
            f"({answered:.1f} requests/s)  "
            f"p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  ({outcomes})"
        )


def asyncpg_url(raw: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+asyncpg://" + raw[len(prefix) :]
    return raw


async def set_up(
    engine: AsyncEngine, *, tag: str, products_count: int, stock: int
) -> tuple[int, str, list[int]]:
    """A customer, a token for them, and products with `stock` each."""
    async with make_sessionmaker(engine).begin() as session:
        user_id = (
            await session.execute(
                insert(users)
                .values(
                    username=f"bench_po_{tag}",
                    email=f"bench_po_{tag}@example.com",
                    password_hash="!",  # never signs in with a password
                )
                .returning(users.c.id)
            )
        ).scalar_one()
        token = await issue_token(session, user_id, ttl=timedelta(hours=2))
        rows = await session.execute(
            insert(products).returning(products.c.id),
            [
                {
                    "sku": f"BENCH-PO-{tag}-{n}",
                    "name": f"Bench product {n}",
                    "price": Decimal("1.25"),
                    "stock": stock,
                }
                for n in range(products_count)
            ],
        )
        product_ids = sorted(rows.scalars().all())
    return user_id, token, product_ids


async def tear_down(engine: AsyncEngine, user_id: int, product_ids: list[int]) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(orders).where(orders.c.user_id == user_id))
        await conn.execute(delete(products).where(products.c.id.in_(product_ids)))
        await conn.execute(delete(auth_tokens).where(auth_tokens.c.user_id == user_id))
        await conn.execute(delete(users).where(users.c.id == user_id))


async def stocks(engine: AsyncEngine, product_ids: list[int]) -> dict[int, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(products.c.id, products.c.stock).where(products.c.id.in_(product_ids))
        )
        return {row.id: row.stock for row in rows}


async def units_ordered(engine: AsyncEngine, user_id: int) -> tuple[int, dict[int, int]]:
    """(orders, {product id: units}) of the customer's orders."""
    async with engine.connect() as conn:
        count = (
            await conn.execute(
                select(func.count()).select_from(orders).where(orders.c.user_id == user_id)
            )
        ).scalar_one()
        rows = await conn.execute(
            select(order_items.c.product_id, func.sum(order_items.c.quantity))
            .join(orders, orders.c.id == order_items.c.order_id)
            .where(orders.c.user_id == user_id)
            .group_by(order_items.c.product_id)
        )
        return int(count), {row[0]: int(row[1]) for row in rows}


async def place_orders(
    client: httpx.AsyncClient, url: str, token: str, run: Run, requests: int
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    next_request = iter(range(requests))

    async def worker() -> None:
        for n in next_request:
            product_id = run.product_ids[n % len(run.product_ids)]
            variables = {
                "input": {"items": [{"productId": encode_id("Product", product_id), "quantity": 1}]}
            }
            started = time.perf_counter()
            response = await client.post(
                url, json={"query": PLACE, "variables": variables}, headers=headers
            )
            run.latencies.append(time.perf_counter() - started)
            body: dict[str, Any] = response.json()
            if response.status_code != 200 or body.get("errors"):
                run.outcomes["error"] += 1
                continue
            payload = body["data"]["placeOrder"]
            if payload["order"] is not None:
                run.outcomes["placed"] += 1
                run.placed.append(payload["order"]["id"])
            else:
                run.outcomes[payload["userErrors"][0]["code"]] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(run.concurrency)))
    run.elapsed = time.perf_counter() - started


async def check(
    engine: AsyncEngine,
    user_id: int,
    before: dict[int, int],
    runs: list[Run],
) -> list[str]:
    """What is wrong with the stock and the orders after `runs`; empty when all is exact."""
    problems = []
    after = await stocks(engine, list(before))
    count, units = await units_ordered(engine, user_id)
    placed = sum(len(run.placed) for run in runs)
    if count != placed:
        problems.append(f"the server placed {placed} orders but {count} exist")
    for product_id, initial in before.items():
        taken = initial - after[product_id]
        if after[product_id] < 0:
            problems.append(f"product {product_id}: stock {after[product_id]} is negative")
        if taken != units.get(product_id, 0):
            problems.append(
                f"product {product_id}: stock fell by {taken}, "
                f"orders hold {units.get(product_id, 0)} units"
            )
    return problems


async def main(args: argparse.Namespace) -> int:
    engine = create_async_engine(asyncpg_url(args.database_url), pool_size=4)
    tag = uuid.uuid4().hex[:8]
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    # Every run takes at most `requests` units of one product, so none runs out
    # unless --stock says so.
    stock = args.stock if args.stock is not None else args.requests * len(concurrencies)
    user_id, token, product_ids = await set_up(
        engine, tag=tag, products_count=args.products + 1, stock=stock
    )
    hot, spread = product_ids[:1], product_ids[1:]
    failed = False
    try:
        before = await stocks(engine, product_ids)
        limits = httpx.Limits(max_connections=max(concurrencies), max_keepalive_connections=64)
        runs: list[Run] = []
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            warm = Run("warmup", 1, spread)
            await place_orders(client, args.url, token, warm, 20)
            runs.append(warm)
            for concurrency in concurrencies:
                for shape, ids in (("hot", hot), ("spread", spread)):
                    run = Run(shape, concurrency, ids)
                    await place_orders(client, args.url, token, run, args.requests)
                    runs.append(run)
                    print(run.line(), flush=True)
        problems = await check(engine, user_id, before, runs)
        if problems:
            failed = True
            print("STOCK NOT EXACT:", *problems, sep="\n  ")
        else:
            placed = sum(len(run.placed) for run in runs)
            print(f"stock exact: {placed} orders placed, every unit accounted for")
        if any(run.outcomes["error"] for run in runs):
            failed = True
            print("some requests failed with errors (see the server log)")
    finally:
        if not args.keep:
            await tear_down(engine, user_id, product_ids)
        await engine.dispose()
    return 1 if failed else 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8123/graphql")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="the served database, for the fixtures and the stock check (DATABASE_URL)",
    )
    parser.add_argument("--requests", type=int, default=1000, help="orders per run (1000)")
    parser.add_argument("--concurrency", default="1,32", help="comma-separated (1,32)")
    parser.add_argument("--products", type=int, default=100, help="for the spread runs (100)")
    parser.add_argument(
        "--stock", type=int, help="each product's stock (default: enough for every order)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench's rows")
    args = parser.parse_args()
    if not args.database_url:
        parser.error("--database-url or DATABASE_URL is needed")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
