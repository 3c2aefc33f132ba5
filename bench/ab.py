"""CPU the GraphQL layer spends per query, this checkout against another commit.

    uv run python bench/ab.py --baseline 1688d47 --queries abcef --rounds 6 -n 300

HTTP runs on this VM swing by 10-30 % between rounds, more than the few per cent a
change is judged by. Here the lean executor runs a query `n` times in one process of
each checkout (bench/ab_child.py, with that checkout's own .venv from
bench/baseline.py), both processes at once, each pinned to its own core (swapped every
round), so both see the same machine speed; the process's CPU per execution is
compared (the database's is not: both send the same statements). Anonymous viewer.
Prints, per query, the median of the rounds' ratios (this checkout ÷ baseline; above 1
is more CPU) and every round's ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and the app importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import baseline, database
from bench.database import ROOT
from bench.queries import BY_KEY, Fixtures

CHILD = Path(__file__).with_name("ab_child.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="git revision to compare with")
    parser.add_argument("--queries", default="abcef", help="query keys (d needs an admin)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("-n", type=int, default=300, help="executions per process")
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args()

    base = baseline.prepare(args.baseline)
    db, fixtures = seeded(args.scale)
    checkouts = {"this": (ROOT, Path(sys.executable)), base.short: (base.root, base.python)}
    with tempfile.TemporaryDirectory() as folder:
        for key in args.queries:
            body_path = Path(folder) / f"{key}.json"
            body_path.write_text(json.dumps(BY_KEY[key].body("storefront", fixtures)))
            ratios = [_round(checkouts, db.url, body_path, args.n, r) for r in range(args.rounds)]
            rounds = " ".join(f"{ratio:.3f}" for ratio in ratios)
            print(
                f"{BY_KEY[key].label}: this ÷ {base.short} CPU/execution "
                f"{statistics.median(ratios):.3f} (rounds {rounds})",
                flush=True,
            )


def seeded(scale: int) -> tuple[database.BenchDatabase, Fixtures]:
    """The bench database, seeded at `scale`, and the rows its queries name."""
    db = database.start()
    database.prepare(db, scale)
    picked = asyncio.run(database.pick_fixtures(db))
    sys.path.insert(0, str(ROOT))
    from schema.ids import encode_id

    return db, Fixtures(
        username=picked.username,
        post_row_id=picked.post_row_id,
        post_global_id=encode_id("Post", picked.post_row_id),
    )


def _round(
    checkouts: dict[str, tuple[Path, Path]], url: str, body: Path, n: int, round_: int
) -> float:
    commands = {
        name: [str(python), str(CHILD), str(root), url, str(body), str(n)]
        for name, (root, python) in checkouts.items()
    }
    this, other = pinned(commands, round_).values()
    return this / other


def pinned(commands: dict[str, list[str]], round_: int) -> dict[str, float]:
    """Run two commands at once, each on its own core (swapped with each round), and
    return the number each prints last, by name."""
    running = {}
    for i, (name, command) in enumerate(commands.items()):
        core = str((i + round_) % 2)
        running[name] = subprocess.Popen(
            ["taskset", "-c", core, *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    found = {}
    for name, process in running.items():
        out, err = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"{name} failed:\n{err[-2000:]}")
        found[name] = float(out.strip().splitlines()[-1])
    return found


if __name__ == "__main__":
    main()
