"""CPU instructions the Storefront process spends per HTTP request, this checkout against
another commit, counted by Valgrind (callgrind) rather than timed.

This VM's speed swings by 10-30 % between runs a minute apart, more than the few per cent
a change to a hot path is judged by. An instruction count does not swing: the same
request costs the same instructions on a busy machine as on a quiet one (repeats agree to
about 0.1 %), the way CodSpeed and CPython's own benchmarks measure. What it counts is
the whole server process per request (uvicorn's HTTP parsing, the view, limits and cost,
the executor, JSON), PostgreSQL's work excluded (both commits send the same statements;
the report shows how many). It ranks CPU cost, not latency: `bench/run.py` times those.

    uv run python bench/instructions.py --baseline 1688d47            # queries a-f
    uv run python bench/instructions.py --baseline e9e9ae2 --queries bd -n 100
    uv run python bench/instructions.py --baseline 64830f6 --queries f --signed-in
    uv run python bench/instructions.py --observed                    # tracing+metrics on ÷ off
    uv run python bench/instructions.py --observed --sampler-arg 0    # what every request pays
    uv run python bench/instructions.py --observed --sampler always_on --observe tracing

Each server runs under `valgrind --tool=callgrind --instr-atstart=no`, so starting it
costs little; per query it is warmed up (`--warmup` requests, uncounted), then counting
is switched on for `-n` requests sent one at a time over one keep-alive connection, as
`wrk` sends them, and the per-request total is read from the dump. Both servers are
measured at once (instruction counts do not mind sharing the CPUs).

`--observed` compares this checkout with itself: `observed` runs with Prometheus metrics
kept (`STOREFRONT_METRICS=1`) and tracing on, sampled as shipped unless `--sampler` /
`--sampler-arg` say otherwise (OTEL_TRACES_SAMPLER / _ARG), its spans exported over
OTLP/HTTP by the batch span processor to a sink in this script (so the export's own
work, on the SDK's thread, is counted too), against `storefront` with neither, as
deployed by default. `--observe metrics` or `tracing` switches on one of the two. With
a ratio, which requests are recorded is chance: count many (`-n`), or count what every
request pays (`--sampler-arg 0`) and what recording one costs (`--sampler always_on`).
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and the app importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import baseline, database, harness, servers
from bench.queries import Fixtures, Query, select

START_TIMEOUT_S = 900.0  # Python's imports under Valgrind, on a busy machine
# Callgrind runs the server about 50 times slower than it runs natively. The batch span
# processor exports every 5 s of wall time: about every 5,000 f-Post requests natively,
# but every 100 under callgrind, so each export's fixed cost (an HTTP POST through
# `requests`, a few million instructions) would be counted per request 50 times over;
# with 1 % of requests recorded, nearly every export would carry one request's spans.
# The observed server waits 50 times longer (OTEL_BSP_SCHEDULE_DELAY), as at native
# speed: the per-export cost (2.5 ms of CPU natively on this VM for three spans, every
# 5 s: 0.05 % of a core) is then outside the count, while a full batch (512 spans, as
# with `--sampler always_on`) still goes at once.
EXPORT_DELAY_MS = 250_000
OBSERVED_PORT = 18005


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="git revision to compare with")
    parser.add_argument(
        "--observed", action="store_true", help="tracing and metrics on, against off"
    )
    parser.add_argument(
        "--observe",
        choices=("both", "metrics", "tracing"),
        default="both",
        help="with --observed: what is switched on (default: both)",
    )
    parser.add_argument(
        "--sampler",
        help="with --observed: OTEL_TRACES_SAMPLER, e.g. always_on (default: the app's own)",
    )
    parser.add_argument("--sampler-arg", help="with --observed: OTEL_TRACES_SAMPLER_ARG")
    parser.add_argument("--queries", default="abcdef")
    parser.add_argument(
        "--signed-in",
        action="store_true",
        help="also count each query but (d) signed in as the bench's reader (a-Feed+token)",
    )
    parser.add_argument("-n", type=int, default=50, help="counted requests per query")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args()
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (apt-get install -y valgrind)")

    if args.observed and args.baseline:
        raise SystemExit("--observed compares this checkout with itself: no --baseline")
    base = baseline.prepare(args.baseline) if args.baseline else None
    db = database.start()
    seed = database.prepare(db, args.scale)
    bench = harness.Bench(db=db, seed=seed, pinning=harness.Pinning(None, None, None))
    names = ["storefront"] + ([servers.BASELINE] if base else [])
    label = f"this ÷ {base.short}" if base else None
    if args.observed:
        names, label = ["observed", "storefront"], "on ÷ off"
    with tempfile.TemporaryDirectory() as folder:
        try:
            for name in names:
                if name == "observed":
                    plain = servers.make_server("storefront", db)
                    server = _observed(plain, _sink(), args)
                else:
                    server = servers.make_server(name, db, base.root if base else None)
                out = Path(folder) / f"{name}.%p.out"
                server.command = [
                    valgrind,
                    "--tool=callgrind",
                    "--instr-atstart=no",
                    f"--callgrind-out-file={out}",
                    *server.command,
                ]
                bench.servers[name] = server
            print(f"starting {', '.join(names)} under Valgrind…", file=sys.stderr, flush=True)
            with ThreadPoolExecutor(len(names)) as pool:
                list(pool.map(lambda s: s.start(None, START_TIMEOUT_S), bench.servers.values()))
            bench.token = harness.admin_token(bench)
            if args.signed_in:
                bench.reader_token = harness.reader_token(bench)
            bench.fixtures = harness.pick_fixtures(bench)
            _report(bench, select(args.queries, args.signed_in), args, label)
        finally:
            bench.stop()


def _observed(plain: servers.Server, sink: str, args: argparse.Namespace) -> servers.Server:
    """This checkout's Storefront on its own port, with metrics kept and/or requests
    traced (`--observe`), its spans exported to `sink`, sampled as `--sampler` says."""
    command = [*plain.command[: plain.command.index("--port")], "--port", str(OBSERVED_PORT)]
    env = dict(plain.env)
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"):
        env.pop(name, None)
    if args.observe in ("both", "metrics"):
        env["STOREFRONT_METRICS"] = "1"
    if args.observe in ("both", "tracing"):
        env.update(
            OTEL_TRACES_EXPORTER="otlp",
            OTEL_EXPORTER_OTLP_ENDPOINT=sink,
            OTEL_BSP_SCHEDULE_DELAY=str(EXPORT_DELAY_MS),
        )
        if args.sampler:
            env["OTEL_TRACES_SAMPLER"] = args.sampler
        if args.sampler_arg:
            env["OTEL_TRACES_SAMPLER_ARG"] = args.sampler_arg
    return replace(plain, name="observed", port=OBSERVED_PORT, command=command, env=env)


def _sink() -> str:
    """An OTLP/HTTP collector that takes every export and keeps nothing."""

    class Sink(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def _report(
    bench: harness.Bench, queries: list[Query], args: argparse.Namespace, label: str | None
) -> None:
    assert bench.fixtures is not None
    names = list(bench.servers)
    header = " | ".join(f"{name} instr/req | stmts" for name in names)
    ratio = f" | {label}" if label else ""
    print(f"| query | {header}{ratio} |")
    print("|---" * (1 + 2 * len(names) + (1 if label else 0)) + "|")
    for query in queries:
        token = bench.token_for(query)
        with ThreadPoolExecutor(len(names)) as pool:
            jobs = [
                pool.submit(_count, bench.servers[name], query, bench.fixtures, token, args)
                for name in names
            ]
            counted = [job.result() for job in jobs]
        cells = " | ".join(f"{per / 1e6:.3f} M | {stmts}" for per, stmts in counted)
        line = f"| {query.label} | {cells}"
        if label:
            line += f" | {counted[0][0] / counted[1][0]:.3f}"
        print(line + " |", flush=True)


def _count(
    server: servers.Server,
    query: Query,
    fixtures: Fixtures | None,
    token: str | None,
    args: argparse.Namespace,
) -> tuple[float, str]:
    """(instructions per request, statements per request as the debug extension says)."""
    assert fixtures is not None
    body = json.dumps(query.body("storefront", fixtures)).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)

    def send() -> dict[str, object]:
        conn.request("POST", "/graphql", body, headers)
        response = conn.getresponse()
        payload = json.loads(response.read())
        if response.status != 200 or payload.get("errors"):
            raise SystemExit(f"{server.name} {query.label}: {str(payload)[:300]}")
        return payload  # type: ignore[no-any-return]

    try:
        for _ in range(args.warmup):
            answer = send()
        statements = str(harness._statement_count(answer.get("extensions")) or "?")
        _control(server, "-z")
        _control(server, "-i", "on")
        for _ in range(args.n):
            send()
        _control(server, "-i", "off")
        return _dumped_total(server) / args.n, statements
    finally:
        conn.close()


def _control(server: servers.Server, *arguments: str) -> None:
    subprocess.run(
        ["callgrind_control", *arguments, str(server.pid)], check=True, capture_output=True
    )


def _dumped_total(server: servers.Server) -> int:
    """Dump the counters and read the newest dump's `totals:` line."""
    out_pattern = next(a for a in server.command if a.startswith("--callgrind-out-file="))
    folder = Path(out_pattern.split("=", 1)[1]).parent
    before = set(folder.glob(f"{server.name}.{server.pid}.out.*"))
    _control(server, "-d")
    for _ in range(600):
        dumps = set(folder.glob(f"{server.name}.{server.pid}.out.*")) - before
        for dump in dumps:
            text = dump.read_text(errors="replace")
            for line in text.splitlines():
                if line.startswith("totals:"):
                    return int(line.split()[1])
        time.sleep(0.1)
    raise SystemExit(f"{server.name}: no callgrind dump appeared")


if __name__ == "__main__":
    main()
