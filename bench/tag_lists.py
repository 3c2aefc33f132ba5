"""The database's CPU for a page of posts with their tags: the served statement against
the same statement with the tags read the way they were before, in one run.

    uv run python bench/tag_lists.py [--scale 1] [-n 1000] [--rounds 3]

The statement is (c)'s second one, the first 20 users' (by username) 5 newest posts
each with their tags, as `db.posts.post_pages_by_author_ids` sends it. "before" swaps
its tag list for the form that probed `tags` per tag and sorted per post (what
`db.post_relations` read until the tags' names were copied into post_tags); "no tags"
drops the list, the floor either could reach. Each form runs prepared, `n` times per
round on one connection (with the service's planner settings), the forms taking turns;
the backend's own CPU per execution (from /proc) is the figure, its median over the
rounds printed with the client's wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and the app importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import database
from db.access import Access
from db.paging import PageRequest
from db.post_relations import TAGS
from db.posts import NEWEST, NO_FILTER, _pages_by_author

BEFORE = """(SELECT array_agg(tags.id ORDER BY tags.name, tags.id) AS tag_ids,
       array_agg(tags.name ORDER BY tags.name, tags.id) AS tag_names
FROM tags WHERE tags.id = ANY (array((SELECT post_tags.tag_id FROM post_tags
WHERE post_tags.post_id = page.id)))) AS post_tag_list"""
NO_TAGS = "(SELECT NULL::bigint[] AS tag_ids, NULL::text[] AS tag_names) AS post_tag_list"


def _forms(ids: list[int]) -> tuple[dict[str, str], list[Any]]:
    """Each form's SQL, and the arguments they all take for the users `ids`."""
    request = PageRequest(limit=5)
    statement = _pages_by_author(
        request.shape, NEWEST, Access().reader, NO_FILTER.shape, frozenset({TAGS})
    )
    served = statement.sql
    start = served.index("JOIN LATERAL (SELECT array_agg(post_tags.tag_id")
    end = served.index(") AS post_tag_list", start) + len(") AS post_tag_list")
    forms = {
        "served": served,
        "before": served[:start] + "JOIN LATERAL " + BEFORE + served[end:],
        "no tags": served[:start] + "JOIN LATERAL " + NO_TAGS + served[end:],
    }
    values = {"parent_ids": ids, **request.values(), **Access().values, **NO_FILTER.values()}
    return forms, statement.arguments(values)


def _backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _run(db: database.BenchDatabase, n: int, rounds: int) -> None:
    conn = await db.connect()
    try:
        await conn.execute("SET jit = off; SET random_page_cost = 1.1")  # as db/engine.py
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        first = await conn.fetch("SELECT id FROM users ORDER BY username, id LIMIT 20")
        ids = [row[0] for row in first]
        forms, args = _forms(ids)
        prepared = {name: await conn.prepare(sql) for name, sql in forms.items()}
        answers = {name: await p.fetch(*args) for name, p in prepared.items()}
        lists = {
            name: [(row["id"], row["tag_ids"], row["tag_names"]) for row in rows]
            for name, rows in answers.items()
        }
        if lists["served"] != lists["before"]:
            raise SystemExit("the served tag lists differ from the former form's")
        cpu: dict[str, list[float]] = {name: [] for name in forms}
        wall: dict[str, list[float]] = {name: [] for name in forms}
        for round_ in range(rounds):
            order = list(prepared.items())
            for name, p in order if round_ % 2 == 0 else reversed(order):
                for _ in range(n // 10):
                    await p.fetch(*args)
                before_cpu, started = _backend_cpu(pid), time.perf_counter()
                for _ in range(n):
                    await p.fetch(*args)
                wall[name].append((time.perf_counter() - started) / n * 1000)
                cpu[name].append((_backend_cpu(pid) - before_cpu) / n * 1000)
        rows = len(answers["served"])
        print(f"{rows} posts of {len(ids)} users, {n} executions x {rounds} rounds per form")
        print("| form | backend CPU ms/statement | wall ms/statement |")
        print("|---|---:|---:|")
        for name in forms:
            cpu_ms, wall_ms = statistics.median(cpu[name]), statistics.median(wall[name])
            print(f"| {name} | {cpu_ms:.3f} | {wall_ms:.3f} |")
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    db = database.start()
    database.prepare(db, options.scale)
    asyncio.run(_run(db, options.n, options.rounds))


if __name__ == "__main__":
    main()
