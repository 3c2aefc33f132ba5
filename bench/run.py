"""Storefront's benchmark: Storefront vs PostGraphile 5 vs a hand-written floor, same data.

    uv run python bench/run.py [--scale 1] [--duration 10] [--only storefront,postgraphile,floor]
    uv run python bench/run.py --signed-in   # each query anonymous and signed in (`a-Feed+token`)
    uv run python bench/run.py --only storefront,baseline --baseline main~1  # two commits
    uv run python bench/run.py --only storefront --workers 2 [--pgbouncer]  # scaled out
    uv run python bench/run.py --soak [--minutes 10]      # same as bench/soak.py
    uv run python bench/run.py --place-order [--requests 1000]  # bench/place_order.py, set up

See bench/README.md for what each column means.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and the app importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import baseline, harness, inprocess, load, queries, servers
from bench.database import DATA
from bench.harness import Pinning
from bench.queries import Query
from bench.report import RESULTS, Report, Row, machine_settings, now


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--scale", type=int, default=1, help="seed scale (1)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per measured run (10)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per run (2)")
    parser.add_argument(
        "--only", default=",".join(servers.SERVER_NAMES), help="servers (all three)"
    )
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also serve Storefront from git revision REV (server `baseline`, port 18004),\n"
        "checked out into bench/.data/baseline-<short sha>; it takes turns with the others",
    )
    parser.add_argument(
        "--queries", default="abcdefg", help="which of the seven queries, by letter (abcdefg)"
    )
    parser.add_argument(
        "--signed-in",
        action="store_true",
        help="also run each query but (d) signed in, as a user with no posts and no orders\n"
        "(rows labelled like a-Feed+token; every server gets the same Authorization header)",
    )
    parser.add_argument("--concurrency", default="1,32", help="wrk connections per run (1,32)")
    parser.add_argument(
        "--inprocess",
        type=int,
        default=200,
        metavar="N",
        help="iterations of the in-process Storefront timing per query; 0 skips it (200)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="serve storefront with `cli.py serve --workers N` (1)",
    )
    parser.add_argument(
        "--pgbouncer",
        action="store_true",
        help="put Debian's pgbouncer, in transaction mode, between storefront and the\n"
        "database (STOREFRONT_DATABASE_POOLER=pgbouncer-transaction; LISTEN goes direct)",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    parser.add_argument("--reseed", action="store_true", help="seed again even if up to date")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="runs per server, query and concurrency, servers taking turns; the median counts (3)",
    )
    parser.add_argument(
        "--time-failed",
        action="store_true",
        help="time queries whose check found GraphQL errors too (skipped by default)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="S",
        help="first wait up to S seconds for other work on the machine to stop (0)",
    )
    parser.add_argument("--soak", action="store_true", help="run the soak test instead")
    parser.add_argument(
        "--place-order",
        action="store_true",
        help="run bench/place_order.py against Storefront on the bench database instead\n"
        "(other arguments go to it, e.g. --requests 500 --concurrency 1,32)",
    )
    args, rest = parser.parse_known_args(argv)
    args.rest = rest
    if rest and not (args.soak or args.place_order):
        parser.error(f"unrecognised arguments: {' '.join(rest)}")
    if args.workers < 1:
        parser.error("--workers must be 1 or more")
    if args.soak and (args.workers > 1 or args.pgbouncer):
        parser.error("--soak runs one process straight on the database (no --workers, --pgbouncer)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.soak:
        from bench import soak

        signed_in = ["--signed-in"] if args.signed_in else []
        return soak.main(["--scale", str(args.scale), *signed_in, *args.rest])
    if args.place_order:
        return place_order(args)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    known = (*servers.SERVER_NAMES, servers.BASELINE)
    unknown = set(names) - set(known)
    if unknown:
        raise SystemExit(f"unknown servers {sorted(unknown)}; choose from {known}")
    if servers.BASELINE in names and not args.baseline:
        raise SystemExit("the baseline server needs --baseline REV (a git revision)")
    if args.baseline and servers.BASELINE not in names:
        names.append(servers.BASELINE)
    base = baseline.prepare(args.baseline) if args.baseline else None
    try:
        selected = queries.select(args.queries, args.signed_in)
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    pinning = Pinning.default(not args.no_pin)

    if args.wait_quiet > 0:
        wait_quiet(args.wait_quiet)
    started = now()
    bench = harness.bring_up(
        names,
        args.scale,
        pinning,
        reseed=args.reseed,
        baseline_root=base.root if base else None,
        workers=args.workers,
        pgbouncer=args.pgbouncer,
        reader=args.signed_in,
    )
    assert bench.fixtures is not None
    report = Report(
        started=started,
        settings={
            "scale": args.scale,
            "duration": args.duration,
            "warmup": args.warmup,
            "rounds": args.rounds,
            "concurrencies": concurrencies,
            "servers": names,
            "queries": [q.label for q in selected],
            "signed_in": args.signed_in,
            "pin_server": pinning.server or "any",
            "pin_db": pinning.db or "any",
            "pin_load": pinning.load or "any",
            "storefront_workers": args.workers,
            "storefront_pgbouncer": args.pgbouncer,
            "fixtures": {
                "username": bench.fixtures.username,
                "post_row_id": bench.fixtures.post_row_id,
                "post_global_id": bench.fixtures.post_global_id,
            },
            **machine_settings(),
            **(
                {
                    "baseline": base.describe(),
                    "baseline_short": base.short,
                    "baseline_sha": base.sha,
                }
                if base
                else {}
            ),
        },
        notes=bench.notes,
    )
    try:
        checks = harness.check_all(bench, selected)
        for c in checks.values():
            print(f"check {c.server:12} {c.query:16} {c.status:6} {c.detail}", file=sys.stderr)
        harness.serve_as_deployed(bench, selected)
        report.idle_rss_mb = {name: s.rss_bytes() / 2**20 for name, s in bench.servers.items()}
        bodies = DATA / "bodies"
        bodies.mkdir(parents=True, exist_ok=True)
        # Servers take turns on each query and concurrency (the order flipping every
        # round), so that the machine's drift over minutes falls on all of them alike.
        for query in selected:
            for concurrency in concurrencies:
                rows = {}
                for name in bench.servers:
                    body_file = bodies / f"{name}-{query.label}.json"
                    body_file.write_text(json.dumps(query.body(name, bench.fixtures)))
                    check = checks[(name, query.id)]
                    rows[name] = row = Row(name, query.label, query.id, concurrency, check)
                    report.rows.append(row)
                    if check.errors and not args.time_failed:
                        row.skipped = check.detail
                runs: dict[str, list[load.LoadResult]] = {name: [] for name in rows}
                for round_ in range(args.rounds):
                    order = list(rows) if round_ % 2 == 0 else list(reversed(rows))
                    for name in order:
                        if rows[name].skipped:
                            continue
                        runs[name].append(
                            _measure(bench, name, query, concurrency, args, pinning.load)
                        )
                for name, row in rows.items():
                    row.runs = runs[name]
                    if runs[name]:
                        row.load = _median(runs[name])
                        print(
                            f"{name:12} {query.label:16} c={concurrency:<3} "
                            f"{row.load.rps:8.0f} req/s  p99 {row.load.p99_ms:7.2f} ms  "
                            f"{row.status}",
                            file=sys.stderr,
                            flush=True,
                        )
        if "storefront" in names and args.inprocess > 0:
            print(f"in-process: {args.inprocess} iterations per query…", file=sys.stderr)
            report.inprocess = inprocess.run(
                bench.db,
                selected,
                bench.fixtures,
                {"admin": bench.token, "reader": bench.reader_token},
                args.inprocess,
            )
    finally:
        bench.stop()
    md, raw = report.save()
    sys.stdout.write(report.markdown())
    print(f"\nsaved {md} and {raw}", file=sys.stderr)
    return 0


def _measure(
    bench: harness.Bench,
    name: str,
    query: Query,
    concurrency: int,
    args: argparse.Namespace,
    cpus: str | None,
) -> load.LoadResult:
    token = bench.token_for(query)
    return load.measure(
        bench.servers[name],
        bench.db.postmaster_pid,
        load.POST_LUA,
        [str(DATA / "bodies" / f"{name}-{query.label}.json"), token or ""],
        concurrency=concurrency,
        seconds=args.duration,
        warmup=args.warmup,
        cpus=cpus,
        pooler=bench.pooler.pid if bench.pooler and name == "storefront" else None,
    )


def _median(results: list[load.LoadResult]) -> load.LoadResult:
    """The run with the median throughput (the lower middle one of an even count)."""
    ranked = sorted(results, key=lambda r: r.rps)
    return ranked[(len(ranked) - 1) // 2]


def place_order(args: argparse.Namespace) -> int:
    """bench/place_order.py against Storefront on the bench database: the server (and
    PostgreSQL) pinned as for the read runs, the script on the load CPU. The script deletes
    the rows it made, so the seeded data stays as it was."""
    pinning = Pinning.default(not args.no_pin)
    bench = harness.bring_up(
        ["storefront"],
        args.scale,
        pinning,
        reseed=args.reseed,
        workers=args.workers,
        pgbouncer=args.pgbouncer,
    )
    try:
        command = [
            sys.executable, str(Path(__file__).with_name("place_order.py")),
            "--url", bench.servers["storefront"].url, "--database-url", bench.db.url,
            *args.rest,
        ]  # fmt: skip
        if pinning.load:
            command = ["taskset", "-c", pinning.load, *command]
        started = now()
        lines = [
            f"# placeOrder, {started:%Y-%m-%d %H:%M:%S} UTC: storefront, data scale {args.scale}, "
            f"{machine_settings()['commit']}{_shape(args)}",
            "",
        ]
        print(lines[0], flush=True)
        with subprocess.Popen(
            command, env=bench.db.env(), stdout=subprocess.PIPE, text=True
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                lines.append(line.rstrip("\n"))
        RESULTS.mkdir(parents=True, exist_ok=True)
        saved = RESULTS / f"place-order-{started:%Y%m%d-%H%M%S}.txt"
        saved.write_text("\n".join(lines) + "\n")
        print(f"saved {saved}", file=sys.stderr)
        return process.returncode
    finally:
        bench.stop()


def _shape(args: argparse.Namespace) -> str:
    """How Storefront is served, for a report's first line: '' when as by default."""
    parts = [f"{args.workers} workers"] if args.workers > 1 else []
    if args.pgbouncer:
        parts.append("through PgBouncer (transaction mode)")
    return f", {', '.join(parts)}" if parts else ""


def wait_quiet(limit_s: float, threshold_pct: float = 15) -> None:
    """Wait until the whole machine is under `threshold_pct` busy for 5 s, or `limit_s` pass."""
    deadline = time.monotonic() + limit_s
    cpus = os.cpu_count() or 1
    while time.monotonic() < deadline:
        before = servers.machine_busy_seconds()
        time.sleep(5)
        busy = 100 * (servers.machine_busy_seconds() - before) / (5 * cpus)
        if busy < threshold_pct:
            return
        print(f"machine {busy:.0f}% busy with other work; waiting…", file=sys.stderr, flush=True)
    print("the machine never went quiet: measuring anyway", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
