"""The results: one markdown table (plus the in-process one) and the raw JSON beside it."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.database import BENCH, ROOT
from bench.harness import Check
from bench.inprocess import InProcessResult
from bench.load import LoadResult

RESULTS = BENCH / "results"
FLOOR_STATEMENTS = 1  # by construction: one hand-written statement per request
# Issue 16's goals, per query and concurrency: Storefront's req/s at least this many times
# PostGraphile's, its server CPU per request at most this many times the floor's.
GOAL_RPS_VS_PG = 1.5
GOAL_CPU_VS_FLOOR = 3.0


@dataclass
class Row:
    server: str
    query: str  # label, e.g. "a-Feed"
    key: str
    concurrency: int
    check: Check
    load: LoadResult | None = None  # the median run
    skipped: str | None = None
    runs: list[LoadResult] = field(default_factory=list)  # every round's run, in round order

    @property
    def status(self) -> str:
        if self.skipped:
            return "FAILED (not timed)"
        return self.check.status

    @property
    def statements(self) -> int | None:
        if self.server == "floor":
            return FLOOR_STATEMENTS
        return self.check.statements


@dataclass
class Report:
    started: datetime
    settings: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    inprocess: list[InProcessResult] = field(default_factory=list)
    idle_rss_mb: dict[str, float] = field(default_factory=dict)

    def _noise_warning(self) -> list[str]:
        others = sorted(r.load.other_cpu_pct for r in self.rows if r.load and r.load.requests)
        if not others or others[len(others) // 2] < 20:
            return []
        return [
            f"- **warning: other processes used a median {others[len(others) // 2]:.0f}% of a "
            "core during the runs (see 'other CPU %'): the machine was not quiet, so these "
            "figures are not comparable with a quiet run.**"
        ]

    def statements(self, row: Row) -> str:
        """Storefront's own count over HTTP (`extensions.sqlStatements`), 1 for the floor."""
        return "-" if row.statements is None else str(row.statements)

    def _statement_notes(self) -> list[str]:
        """Cross-checks of the HTTP count: against the in-process count of the same document,
        and against the first (cold) request."""
        notes = []
        in_process = {r.query: {r.lean_statements, r.statements} - {None} for r in self.inprocess}
        seen: set[str] = set()
        for row in self.rows:
            if row.server != "storefront" or row.query in seen:
                continue
            seen.add(row.query)
            http = row.statements
            if http is None:
                notes.append(
                    f"- {row.query}: Storefront reported no `extensions.sqlStatements` "
                    "(STOREFRONT_DEBUG_SQL=1 not honoured?)"
                )
                continue
            if row.check.cold_statements is not None:
                notes.append(
                    f"- {row.query}: the first request ran {row.check.cold_statements} "
                    f"statements, later ones {http}"
                )
            if in_process.get(row.query, {http}) - {http}:
                counts = ", ".join(str(c) for c in sorted(in_process[row.query]))
                notes.append(f"- {row.query}: {http} statements over HTTP, {counts} in process")
        return notes

    def _peer(self, row: Row, server: str) -> Row | None:
        for other in self.rows:
            if (other.server, other.key, other.concurrency) == (server, row.key, row.concurrency):
                return other if other.load is not None and other.load.requests else None
        return None

    def _ratios(self, row: Row, server: str) -> tuple[float | None, float | None]:
        peer = self._peer(row, server)
        if not row.load or not row.load.requests or peer is None or peer.load is None:
            return None, None
        rps = row.load.rps / peer.load.rps if peer.load.rps else None
        mine, theirs = row.load.server_cpu_ms_per_request, peer.load.server_cpu_ms_per_request
        cpu = mine / theirs if mine is not None and theirs else None
        return rps, cpu

    def _baseline_comparison(self) -> list[str]:
        """Storefront against the baseline commit, per query and concurrency: the median runs,
        and the ratio of each round's pair of runs (adjacent in time, so drift cancels)."""
        if not any(r.server == "baseline" for r in self.rows):
            return []
        pairs = [
            (row, self._peer(row, "baseline")) for row in self.rows if row.server == "storefront"
        ]
        lines = [
            "",
            f"## Storefront ({self.settings['commit']}) vs baseline "
            f"({self.settings.get('baseline_short', 'baseline')})",
            "",
            "ratio = storefront ÷ baseline: req/s below 1 (CPU above 1) means this checkout is "
            "slower. Rounds: the ratio of each round's two runs, taken back to back. Check and "
            "SQL/req: storefront / baseline.",
            "",
            "| query | conc | check | SQL/req | storefront req/s | baseline req/s | req/s ratio "
            "| rounds | storefront p50 ms | baseline p50 ms | storefront p99 ms "
            "| baseline p99 ms | storefront CPU ms/req | baseline CPU ms/req | CPU ratio |",
            "|---|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        by_concurrency: dict[int, list[float]] = {}
        for row, peer in pairs:
            baseline_row = next(
                (
                    r
                    for r in self.rows
                    if (r.server, r.key, r.concurrency) == ("baseline", row.key, row.concurrency)
                ),
                None,
            )
            mine = row.load if row.load and row.load.requests else None
            theirs = peer.load if peer is not None else None
            rps, cpu = self._ratios(row, "baseline")
            if rps is not None:
                by_concurrency.setdefault(row.concurrency, []).append(rps)
            rounds = " ".join(
                f"{a.rps / b.rps:.3f}"
                for a, b in zip(row.runs, baseline_row.runs if baseline_row else [], strict=False)
                if a.rps and b.rps
            )
            check = row.status + " / " + (baseline_row.status if baseline_row else "-")
            statements = (
                self.statements(row)
                + " / "
                + (self.statements(baseline_row) if baseline_row else "-")
            )
            lines.append(
                "| "
                + " | ".join(
                    [
                        row.query,
                        str(row.concurrency),
                        check,
                        statements,
                        _n(mine.rps if mine else None, 0),
                        _n(theirs.rps if theirs else None, 0),
                        _n(rps, 3),
                        rounds or "-",
                        _n(mine.p50_ms if mine else None, 2),
                        _n(theirs.p50_ms if theirs else None, 2),
                        _n(mine.p99_ms if mine else None, 2),
                        _n(theirs.p99_ms if theirs else None, 2),
                        _n(mine.server_cpu_ms_per_request if mine else None, 3),
                        _n(theirs.server_cpu_ms_per_request if theirs else None, 3),
                        _n(cpu, 3),
                    ]
                )
                + " |"
            )
        if by_concurrency:
            means = ", ".join(
                f"c={c}: {_geometric_mean(ratios):.3f} over {len(ratios)} queries"
                for c, ratios in sorted(by_concurrency.items())
            )
            lines += ["", f"Geometric mean of the req/s ratio: {means}."]
        return lines

    def _goals(self) -> list[str]:
        """Storefront's two ratios per query (each signed-in variant on its own row) and
        concurrency, against the goals, with its statements per request."""
        mine = [r for r in self.rows if r.server == "storefront"]
        if not mine:
            return []
        concurrencies = sorted({r.concurrency for r in mine})
        labels = list(dict.fromkeys(r.query for r in mine))
        cells = {(r.query, r.concurrency): r for r in mine}
        header = ["query", "SQL/req"]
        header += [f"req/s ÷ PG, c={c}" for c in concurrencies]
        header += [f"CPU ÷ floor, c={c}" for c in concurrencies]
        lines = [
            "",
            f"## Storefront against the goals: req/s ÷ PostGraphile ≥ {GOAL_RPS_VS_PG:g}, "
            f"server CPU/req ÷ floor ≤ {GOAL_CPU_VS_FLOOR:g}",
            "",
            "Each cell is Storefront's median run over the other server's, same query and "
            "concurrency; ✗ marks a miss, `-` a ratio not measured (server left out, failed or "
            "not timed). `+token` rows are signed in as the bench reader (no posts, no orders).",
            "",
            "| " + " | ".join(header) + " |",
            "|---|---:|" + "---:|" * (2 * len(concurrencies)),
        ]
        misses = 0
        for label in labels:
            rows = [cells.get((label, c)) for c in concurrencies]
            rps = [self._ratios(r, "postgraphile")[0] if r else None for r in rows]
            cpu = [self._ratios(r, "floor")[1] if r else None for r in rows]
            first = next(r for r in rows if r is not None)
            row_cells = [label, self.statements(first)]
            for value in rps:
                miss = value is not None and value < GOAL_RPS_VS_PG
                misses += miss
                row_cells.append(_n(value, 2) + (" ✗" if miss else ""))
            for value in cpu:
                miss = value is not None and value > GOAL_CPU_VS_FLOOR
                misses += miss
                row_cells.append(_n(value, 2) + (" ✗" if miss else ""))
            lines.append("| " + " | ".join(row_cells) + " |")
        lines += ["", f"Goals missed: {misses}." + self._signed_in_statements()]
        return lines

    def _signed_in_statements(self) -> str:
        """Whether each signed-in variant ran the statements of the same anonymous query."""
        by_query = {r.key: r.statements for r in self.rows if r.server == "storefront"}
        pairs = [(k[:-1], k) for k in by_query if k.endswith("+") and k[:-1] in by_query]
        if not pairs:
            return ""
        differ = [
            f"{k} {by_query[signed]} against {by_query[k]}"
            for k, signed in pairs
            if by_query[signed] != by_query[k]
        ]
        if differ:
            return " Signed in, statements differ from anonymous: " + "; ".join(differ) + "."
        return (
            " Signed in, every query ran as many statements as anonymous (SQL/req: what "
            "execution runs; a token's own lookup, on its first request only, is not in it; "
            "tests/schema/test_signed_in_statements.py asserts that)."
        )

    def markdown(self) -> str:
        s = self.settings
        lines = [
            f"# Storefront benchmark, {self.started:%Y-%m-%d %H:%M:%S} UTC",
            "",
            f"- data: scale {s['scale']} (cli.py seed); {s['duration']} s per run "
            f"after {s['warmup']} s of warm-up; concurrency {s['concurrencies']}; "
            f"{s.get('rounds', 1)} rounds, servers taking turns, the median run shown",
            f"- machine: {s['cpus']} CPUs, {s['machine']}; pinning: servers on CPU "
            f"{s['pin_server']}, PostgreSQL on {s['pin_db']}, wrk on {s['pin_load']}",
            f"- code: {s['commit']}",
            *([f"- baseline: {s['baseline']}"] if s.get("baseline") else []),
            *_storefront_shape(s),
            *(f"- note: {note}" for note in self.notes),
            *self._noise_warning(),
            "",
            "## Over HTTP",
            "",
            "| server | query | conc | check | req/s | p50 ms | p99 ms | SQL/req "
            "| CPU ms/req | DB CPU ms/req | RSS MB | req/s ÷ PG | req/s ÷ floor "
            "| CPU ÷ PG | CPU ÷ floor | other CPU % |",
            "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in self.rows:
            load = row.load if row.load and row.load.requests else None
            rps_pg, cpu_pg = self._ratios(row, "postgraphile")
            rps_fl, cpu_fl = self._ratios(row, "floor")
            cells = [
                row.server,
                row.query,
                str(row.concurrency),
                row.status,
                _n(load.rps if load else None, 0),
                _n(load.p50_ms if load else None, 2),
                _n(load.p99_ms if load else None, 2),
                self.statements(row),
                _n(load.server_cpu_ms_per_request if load else None, 3),
                _n(load.db_cpu_ms_per_request if load else None, 3),
                _n(load.server_rss_mb if load else None, 0),
                _n(rps_pg, 2),
                _n(rps_fl, 2),
                _n(cpu_pg, 2),
                _n(cpu_fl, 2),
                _n(row.load.other_cpu_pct if row.load else None, 0),
            ]
            if row.load is not None and row.load.errors:
                cells[3] += f" ({row.load.errors} errors)"
            if row.load is not None and not row.load.requests:
                cells[3] += " (no reply in time)"
            lines.append("| " + " | ".join(cells) + " |")
        lines += self._goals()
        lines += self._baseline_comparison()
        statement_notes = self._statement_notes()
        if statement_notes:
            lines += ["", "SQL/req cross-checks that did not agree:", "", *statement_notes]
        elif self.inprocess:
            lines += [
                "",
                "SQL/req over HTTP agrees with the in-process counts (lean executor and "
                "Strawberry) of every document; none counts the bearer-token lookup, done "
                "before execution.",
            ]
        if self.idle_rss_mb:
            idle = ", ".join(f"{k} {v:.0f} MB" for k, v in self.idle_rss_mb.items())
            lines += ["", f"Resident size when idle, after start and the checks: {idle}."]
        if self.inprocess:
            lines += [
                "",
                "## In process (no HTTP): the lean executor, and Strawberry's schema.execute",
                "",
                "| query | iterations | lean p50 ms | lean p99 ms | lean SQL "
                "| Strawberry mean ms | Strawberry p50 ms | Strawberry p99 ms | Strawberry SQL "
                "| error |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
            ]
            for r in self.inprocess:
                lean = "handed over" if r.lean_p50_ms is None and not r.error else ""
                lines.append(
                    f"| {r.query} | {r.iterations} | {_n(r.lean_p50_ms, 2)} "
                    f"| {_n(r.lean_p99_ms, 2)} | {_n(r.lean_statements, 0)} "
                    f"| {_n(r.mean_ms, 2)} | {_n(r.p50_ms, 2)} "
                    f"| {_n(r.p99_ms, 2)} | {_n(r.statements, 0)} | {r.error or lean} |"
                )
        failed = [r.check for r in self.rows if not r.check.ok]
        seen: set[tuple[str, str]] = set()
        details = []
        for c in failed:
            if (c.server, c.query) not in seen:
                seen.add((c.server, c.query))
                details.append(f"- {c.server} {c.query}: {c.detail}")
        if details:
            lines += ["", "## Failed checks", "", *details]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "started": self.started.isoformat(),
            "settings": self.settings,
            "notes": self.notes,
            "idle_rss_mb": self.idle_rss_mb,
            "rows": [
                {
                    "server": r.server,
                    "query": r.query,
                    "concurrency": r.concurrency,
                    "status": r.status,
                    "check": r.check.detail,
                    "statements": self.statements(r),
                    "load": r.load.to_json() if r.load else None,
                    "ratios": {
                        "postgraphile": dict(
                            zip(("rps", "cpu"), self._ratios(r, "postgraphile"), strict=True)
                        ),
                        "floor": dict(zip(("rps", "cpu"), self._ratios(r, "floor"), strict=True)),
                        "baseline": dict(
                            zip(("rps", "cpu"), self._ratios(r, "baseline"), strict=True)
                        ),
                    },
                    "rounds_rps": [run.rps for run in r.runs],
                }
                for r in self.rows
            ],
            "inprocess": [r.to_json() for r in self.inprocess],
        }

    def save(self) -> tuple[Path, Path]:
        RESULTS.mkdir(parents=True, exist_ok=True)
        stem = RESULTS / f"{self.started:%Y%m%d-%H%M%S}"
        md, raw = stem.with_suffix(".md"), stem.with_suffix(".json")
        md.write_text(self.markdown())
        raw.write_text(json.dumps(self.to_json(), indent=2, default=str))
        return md, raw


def _storefront_shape(settings: dict[str, Any]) -> list[str]:
    """run.py --workers N and --pgbouncer, said where the figures are read."""
    lines = []
    workers = settings.get("storefront_workers", 1)
    if workers > 1:
        lines.append(
            f"- storefront: `serve --workers {workers}`, its CPU and RSS summed over the "
            f"parent and its workers, all pinned to CPU {settings['pin_server']}"
        )
    if settings.get("storefront_pgbouncer"):
        lines.append(
            "- storefront through PgBouncer in transaction mode "
            "(STOREFRONT_DATABASE_POOLER=pgbouncer-transaction), pinned with PostgreSQL; "
            "its CPU is in storefront's DB CPU (alone: `pooler_cpu_s` in the JSON)"
        )
    return lines


def _geometric_mean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _n(value: float | None, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def machine_settings() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "machine": f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
    }


def now() -> datetime:
    return datetime.now(UTC)
