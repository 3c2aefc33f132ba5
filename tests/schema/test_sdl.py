from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from schema import build_schema

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_is_what_the_code_serves() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == build_schema().as_str() + "\n", (
        "schema.graphql is stale: run `python cli.py export-schema`"
    )


def test_committed_schema_honours_the_contract() -> None:
    checker = ROOT.parent / "shared" / "tools" / "check_contract.py"
    if not checker.is_file():
        raise AssertionError(f"the contract checker is missing at {checker}")
    result = subprocess.run(
        [sys.executable, str(checker), "schema.graphql"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
