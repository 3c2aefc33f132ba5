"""`export-schema`: the SDL and the introspection result client generators take, and
`--check`, which keeps the committed copies honest (API.md, "Schema export")."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import strawberry
from graphql import build_client_schema, build_schema, lexicographic_sort_schema, print_schema

from cli import main
from schema.query import Query
from schema.scalars import RFC_3339
from tests.processes import ROOT
from tests.processes import env as clean_env

COMMITTED = ("schema.graphql", "schema.json")


@strawberry.type(name="Query")
class GrownQuery(Query):
    """The served Query after someone adds a field and forgets to re-export."""

    added_field: int = strawberry.field(
        default=1, description="A field added without re-exporting the schema."
    )


@pytest.fixture
def committed_copy(tmp_path: Path) -> Path:
    """A copy of the committed files; returns the SDL's path (schema.json is beside it)."""
    for name in COMMITTED:
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path / "schema.graphql"


def test_check_passes_on_the_committed_files() -> None:
    result = subprocess.run(
        [sys.executable, "cli.py", "export-schema", "--check"],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    assert "schema.graphql and schema.json match what the code serves" in result.stdout


def test_check_fails_after_a_field_is_added_without_re_exporting(
    committed_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {name: (committed_copy.parent / name).read_bytes() for name in COMMITTED}
    check = ["export-schema", "--check", "--output", str(committed_copy)]

    status = main(check, query=GrownQuery)

    err = capsys.readouterr().err
    assert status == 1
    assert f"{committed_copy} differs from what the code serves" in err
    assert f"{committed_copy.with_suffix('.json')} differs from what the code serves" in err
    assert "python cli.py export-schema" in err
    # --check writes nothing.
    assert {name: (committed_copy.parent / name).read_bytes() for name in COMMITTED} == before

    # Re-exported, the files pass; and now the schema without the field is what differs.
    assert main(["export-schema", "--output", str(committed_copy)], query=GrownQuery) == 0
    assert "addedField: Int!" in committed_copy.read_text()
    assert "addedField" in committed_copy.with_suffix(".json").read_text()
    capsys.readouterr()
    assert main(check, query=GrownQuery) == 0
    assert main(check) == 1
    assert "differs from what the code serves" in capsys.readouterr().err


def test_check_names_only_the_file_that_differs(
    committed_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    json_path = committed_copy.with_suffix(".json")
    edited = json.loads(json_path.read_text())
    edited["data"]["__schema"]["types"].pop()
    json_path.write_text(json.dumps(edited, indent=2) + "\n")

    assert main(["export-schema", "--check", "--output", str(committed_copy)]) == 1

    err = capsys.readouterr().err
    assert f"{json_path} differs" in err
    assert str(committed_copy) not in err.replace(str(json_path), "")


def test_check_names_a_missing_file(
    committed_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    committed_copy.with_suffix(".json").unlink()

    assert main(["export-schema", "--check", "--output", str(committed_copy)]) == 1

    err = capsys.readouterr().err
    assert f"{committed_copy.with_suffix('.json')} is missing" in err
    assert f"{committed_copy} differs" not in err


def test_export_writes_both_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "api.graphql"
    assert main(["export-schema", "--output", str(target)]) == 0
    assert f"wrote {target} and {tmp_path / 'api.json'}" in capsys.readouterr().out
    assert target.read_text() == (ROOT / "schema.graphql").read_text()
    assert (tmp_path / "api.json").read_text() == (ROOT / "schema.json").read_text()


def test_check_needs_files_not_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export-schema", "--check", "--output", "-"]) == 2
    assert capsys.readouterr().err.startswith("error: --check compares files")


def test_schema_json_is_the_introspection_of_schema_graphql() -> None:
    """What graphql-codegen does with `schema: schema.json`: build a client schema from
    `data` (its loader also takes the bare `{"__schema": ...}`)."""
    introspection = json.loads((ROOT / "schema.json").read_text())
    assert set(introspection) == {"data"}
    from_json = build_client_schema(introspection["data"])
    from_sdl = build_schema((ROOT / "schema.graphql").read_text())

    assert print_schema(lexicographic_sort_schema(from_json)) == print_schema(
        lexicographic_sort_schema(from_sdl)
    )


def test_custom_scalars_say_how_they_travel() -> None:
    sdl = (ROOT / "schema.graphql").read_text()
    assert f'scalar DateTime @specifiedBy(url: "{RFC_3339}")' in sdl
    assert "scalar Decimal\n" in sdl  # no specification to name

    types = json.loads((ROOT / "schema.json").read_text())["data"]["__schema"]["types"]
    scalars = {t["name"]: t for t in types if t["kind"] == "SCALAR"}
    assert scalars["DateTime"]["specifiedByURL"] == RFC_3339
    assert "RFC 3339" in scalars["DateTime"]["description"]
    assert scalars["Decimal"]["specifiedByURL"] is None
    assert 'JSON string, e.g. "19.99"' in scalars["Decimal"]["description"]
