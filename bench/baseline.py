"""`--baseline REV`: a second Storefront, from another commit, served beside this one.

The commit is checked out (detached) into a git worktree `bench/.data/baseline-<short sha>`,
reused on later runs, and `uv sync --locked` gives it its own `.venv`. The server runs that
venv's Python with the worktree as its working directory, so it imports the old code only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.database import DATA, ROOT


@dataclass(frozen=True, slots=True)
class Baseline:
    rev: str  # as given, e.g. "1688d47" or "main~3"
    sha: str  # the full commit
    short: str
    root: Path  # the worktree

    @property
    def python(self) -> Path:
        return self.root / ".venv" / "bin" / "python"

    def describe(self) -> str:
        """E.g. `1688d47 (given as main~3): Read-through: …`."""
        subject = _git("log", "-1", "--format=%s", self.sha)
        given = f" (given as {self.rev})" if self.rev != self.short else ""
        return f"{self.short}{given}: {subject}"


def _git(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed:\n{done.stderr.strip()}")
    return done.stdout.strip()


def prepare(rev: str) -> Baseline:
    """Check `rev` out into bench/.data/baseline-<short sha> (or reuse that worktree) and
    install its locked dependencies into its own .venv."""
    sha = _git("rev-parse", "--verify", "--end-of-options", f"{rev}^{{commit}}")
    short = _git("rev-parse", "--short", sha)
    root = DATA / f"baseline-{short}"
    if not _is_worktree_at(root, sha):
        _git("worktree", "prune")  # forget worktrees whose folder was deleted
        if root.exists():
            raise SystemExit(
                f"{root} exists but is not a worktree at {short}: remove it "
                "(`git worktree remove --force` if it is one) and run again"
            )
        DATA.mkdir(parents=True, exist_ok=True)
        print(f"baseline: git worktree add --detach {root} {short}…", file=sys.stderr, flush=True)
        _git("worktree", "add", "--detach", str(root), sha)
    print(f"baseline: uv sync --locked in {root}…", file=sys.stderr, flush=True)
    # The bench itself runs under `uv run`, whose VIRTUAL_ENV names this checkout's venv.
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    done = subprocess.run(
        ["uv", "sync", "--locked", "--quiet"], cwd=root, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"uv sync --locked failed in {root}:\n{done.stdout}{done.stderr}")
    if not (root / "app.py").is_file() or not Baseline(rev, sha, short, root).python.is_file():
        raise SystemExit(f"{root} has no app.py or no .venv/bin/python after uv sync")
    return Baseline(rev=rev, sha=sha, short=short, root=root)


def _is_worktree_at(root: Path, sha: str) -> bool:
    if not (root / ".git").exists():
        return False
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=False
    )
    return done.returncode == 0 and done.stdout.strip() == sha
