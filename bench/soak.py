"""Soak test: a mix of the seven bench queries (and placeOrder) at concurrency 32 for minutes.

    uv run python bench/soak.py [--minutes 10] [--interval 30] [--server storefront]
    uv run python bench/soak.py --signed-in   # each query but (d) also as the bench reader
    uv run python bench/run.py --soak --minutes 1          # the same, through run.py

Every interval prints throughput, p50/p99, errors (a non-200 status or a top-level
`errors` key: there must be none) and the server's resident size. placeOrder (Storefront
only, when the schema has it) orders one unit of each of 50 in-stock products in turn,
as the admin; OUT_OF_STOCK and other userErrors are counted apart, not as errors.
Exits 1 when any request erred.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and the app importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import database, harness, load, servers
from bench.database import DATA
from bench.harness import Bench, Pinning
from bench.queries import BY_KEY, select
from bench.report import RESULTS, machine_settings, now

PLACE_ORDER = """mutation PlaceOrder($input: PlaceOrderInput!) {
  placeOrder(input: $input) { order { id itemCount total } userErrors { code message } }
}"""
PRODUCTS = "{ products(first: 50, inStock: true) { edges { node { id } } } }"
MUTATIONS = '{ __type(name: "Mutation") { fields { name } } }'


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10, help="how long (10)")
    parser.add_argument("--interval", type=float, default=30, help="seconds per report line (30)")
    parser.add_argument("--concurrency", type=int, default=32, help="connections (32)")
    parser.add_argument("--scale", type=int, default=1, help="seed scale (1)")
    parser.add_argument("--server", default="storefront", choices=servers.SERVER_NAMES)
    parser.add_argument("--no-mutations", action="store_true", help="queries only")
    parser.add_argument(
        "--signed-in",
        action="store_true",
        help="also each query but (d) signed in as the bench reader (run.py --signed-in)",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    return parser.parse_args(argv)


def build_mix(
    bench: Bench, server: str, mutations: bool, signed_in: bool = False
) -> tuple[Path, list[str]]:
    """The mix file for wrk/mix.lua: the seven queries (and with `signed_in` their signed-in
    variants) interleaved with placeOrder lines."""
    assert bench.fixtures is not None
    queries = [
        (bench.token_for(q), q.body(server, bench.fixtures), q.label)
        for q in select("".join(BY_KEY), signed_in)
    ]
    orders: list[tuple[str | None, dict[str, Any], str]] = []
    if mutations and server == "storefront":
        url = bench.servers[server].url
        fields = servers.post(url, {"query": MUTATIONS}).get("data") or {}
        names = {f["name"] for f in ((fields.get("__type") or {}).get("fields") or [])}
        if "placeOrder" in names:
            answer = servers.post(url, {"query": PRODUCTS})
            edges = ((answer.get("data") or {}).get("products") or {}).get("edges") or []
            for edge in edges:
                line = {"productId": edge["node"]["id"], "quantity": 1}
                body = {
                    "query": PLACE_ORDER,
                    "operationName": "PlaceOrder",
                    "variables": {"input": {"items": [line]}},
                }
                orders.append((bench.token, body, "placeOrder"))
        else:
            bench.notes.append("no placeOrder in the schema yet: queries only")
    lines = []
    for i in range(max(1, len(orders))):
        lines += queries
        if orders:
            lines.append(orders[i])
    path = DATA / f"mix-{server}.tsv"
    path.write_text("".join(f"{token or '-'}\t{json.dumps(body)}\n" for token, body, _ in lines))
    labels = sorted({label for _, _, label in lines})
    return path, labels


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pinning = Pinning.default(not args.no_pin)
    started = now()
    bench = harness.bring_up([args.server], args.scale, pinning, reader=args.signed_in)
    server = bench.servers[args.server]
    intervals: list[dict[str, Any]] = []
    try:
        mix, labels = build_mix(bench, args.server, not args.no_mutations, args.signed_in)
        if "placeOrder" in labels:
            database.mark_dirty()  # orders written: the next bench run seeds afresh
        print(
            f"soak: {args.server}, {args.minutes:g} min at concurrency {args.concurrency}, "
            f"mix of {', '.join(labels)}",
            file=sys.stderr,
            flush=True,
        )
        load.wrk(
            server.url, load.MIX_LUA, [str(mix)], concurrency=args.concurrency, seconds=5,
            cpus=pinning.load,
        )  # fmt: skip
        count = max(1, math.ceil(args.minutes * 60 / args.interval))
        for i in range(count):
            r = load.measure(
                server, bench.db.postmaster_pid, load.MIX_LUA, [str(mix)],
                concurrency=args.concurrency, seconds=args.interval, warmup=0, cpus=pinning.load,
                drain=False,
            )  # fmt: skip
            at = (i + 1) * args.interval
            intervals.append({"at_s": at, **r.to_json()})
            print(
                f"[{at:5.0f}s] {r.rps:7.0f} req/s  p50 {r.p50_ms:7.2f} ms  p99 {r.p99_ms:7.2f} ms"
                f"  errors {r.errors}  userErrors {r.user_errors}"
                f"  RSS {r.server_rss_mb:6.1f} MB  PostgreSQL {r.db_rss_mb:6.0f} MB",
                flush=True,
            )
    finally:
        bench.stop()
    return _finish(args, started, bench, labels, intervals)


def _finish(
    args: argparse.Namespace,
    started: Any,
    bench: Bench,
    labels: list[str],
    intervals: list[dict[str, Any]],
) -> int:
    errors = sum(int(i["errors"]) for i in intervals)
    requests = sum(int(i["requests"]) for i in intervals)
    first, last = intervals[0], intervals[-1]
    growth = last["server_rss_mb"] - first["server_rss_mb"]
    md = [
        f"# Soak, {started:%Y-%m-%d %H:%M:%S} UTC: {args.server}, {args.minutes:g} min "
        f"at concurrency {args.concurrency}",
        "",
        f"- mix: {', '.join(labels)}; data scale {args.scale}; {machine_settings()['commit']}",
        *(f"- note: {n}" for n in bench.notes),
        "",
        "| at s | req/s | p50 ms | p99 ms | errors | userErrors | RSS MB | PostgreSQL RSS MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {i['at_s']:.0f} | {i['rps']:.0f} | {i['p50_ms']:.2f} | {i['p99_ms']:.2f} "
            f"| {i['errors']} | {i['user_errors']} | {i['server_rss_mb']:.1f} "
            f"| {i['db_rss_mb']:.0f} |"
            for i in intervals
        ),
        "",
        f"**{requests} requests, {errors} errors; server RSS {first['server_rss_mb']:.1f} -> "
        f"{last['server_rss_mb']:.1f} MB ({growth:+.1f} MB) from the first interval to the last.**",
    ]
    text = "\n".join(md) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"soak-{started:%Y%m%d-%H%M%S}"
    stem.with_suffix(".md").write_text(text)
    raw = {"settings": vars(args), "notes": bench.notes, "mix": labels, "intervals": intervals}
    stem.with_suffix(".json").write_text(json.dumps(raw, indent=2, default=str))
    sys.stdout.write("\n" + text)
    print(f"saved {stem}.md and {stem}.json", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
