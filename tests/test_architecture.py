"""The architecture, kept: imports go one way (`db` <- `schema` <- app.py, cli.py and the
other top-level modules), and settings.py alone reads the environment.

The project's modules are parsed with `ast`, not imported, so a violation is found
wherever it sits: inside a function, under `if TYPE_CHECKING:`, in a module no test
imports. Tests, benchmarks, examples and migrations are not the service and are not
checked.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOT_THE_SERVICE = frozenset({"tests", "bench", "examples", "alembic", "node_modules"})
# What each layer may import from the project; anything else of the project's is above it.
ALLOWED = {"db": frozenset({"db"}), "schema": frozenset({"db", "schema"})}
ENVIRONMENT_READERS = frozenset({"environ", "environb", "getenv", "getenvb"})
READS_THE_ENVIRONMENT = "settings.py"


@dataclass(frozen=True)
class Module:
    path: str  # relative to ROOT, with forward slashes: "db/engine.py"
    tree: ast.Module

    @property
    def layer(self) -> str:
        return self.path.split("/")[0] if "/" in self.path else ""

    @property
    def package(self) -> list[str]:
        """The package the module is in, for relative imports: ["schema", "types"]."""
        parts = self.path.removesuffix(".py").split("/")
        return parts if parts[-1] == "__init__" else parts[:-1]


def project_modules(root: Path = ROOT) -> Iterator[Module]:
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith((".", "__"))
            and not (here == root and d in NOT_THE_SERVICE)
            and d != "node_modules"
        )
        for name in sorted(files):
            if name.endswith(".py"):
                path = here / name
                source = path.read_text(encoding="utf-8")
                yield Module(path.relative_to(root).as_posix(), ast.parse(source, str(path)))


def top_level_names(root: Path = ROOT) -> frozenset[str]:
    """The project's importable top-level names: app, cli, settings, db, schema, tests, ..."""
    names = {path.stem for path in root.glob("*.py")}
    return frozenset(names | {path.parent.name for path in root.glob("*/__init__.py")})


def imports(module: Module) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of everything `module` imports, relative imports resolved."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = module.package[: len(module.package) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            if target:
                yield node.lineno, target
            else:  # `from .. import app` at the top of the tree
                for alias in node.names:
                    yield node.lineno, alias.name


def layering_violations(modules: list[Module], project: frozenset[str]) -> list[str]:
    found = []
    for module in modules:
        allowed = ALLOWED.get(module.layer)
        if allowed is None:
            continue
        for line, name in imports(module):
            top = name.split(".")[0]
            if top in project and top not in allowed:
                found.append(
                    f"{module.path}:{line} imports {name}: {module.layer}/ may import only "
                    f"{', '.join(sorted(allowed))} from the project"
                )
    return found


def environment_reads(modules: list[Module]) -> list[str]:
    found = []
    for module in modules:
        if module.path == READS_THE_ENVIRONMENT:
            continue
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT_READERS:
                what = ast.unparse(node)
            elif isinstance(node, ast.Name) and node.id in ENVIRONMENT_READERS:
                what = node.id
            elif isinstance(node, ast.ImportFrom) and any(
                alias.name in ENVIRONMENT_READERS for alias in node.names
            ):
                what = f"from {node.module} import {', '.join(a.name for a in node.names)}"
            else:
                continue
            found.append(
                f"{module.path}:{node.lineno} reads the environment ({what}): "
                f"only {READS_THE_ENVIRONMENT} may; take the value from Settings"
            )
    return found


@pytest.fixture(scope="module")
def modules() -> list[Module]:
    found = list(project_modules())
    paths = {module.path for module in found}
    # A walk that missed the tree would find no violation at all.
    assert {"app.py", "cli.py", "settings.py", "db/engine.py", "schema/view.py"} <= paths
    assert not any(path.split("/")[0] in NOT_THE_SERVICE for path in paths)
    return found


def test_imports_go_one_way(modules: list[Module]) -> None:
    violations = layering_violations(modules, top_level_names())
    assert not violations, "\n".join(violations)


def test_only_settings_reads_the_environment(modules: list[Module]) -> None:
    violations = environment_reads(modules)
    assert not violations, "\n".join(violations)


def _module(path: str, source: str) -> Module:
    return Module(path, ast.parse(source))


PROJECT = frozenset({"app", "cli", "settings", "serving", "db", "schema"})


@pytest.mark.parametrize(
    ("path", "source", "named"),
    [
        ("db/engine.py", "from settings import Settings", "db/engine.py:1 imports settings"),
        ("db/x.py", "def f():\n    import schema.view", "db/x.py:2 imports schema.view"),
        ("db/x.py", "from .. import app", "db/x.py:1 imports app"),
        ("schema/types/user.py", "from ... import cli", "schema/types/user.py:1 imports cli"),
        ("schema/view.py", "import serving", "schema/view.py:1 imports serving"),
        ("schema/view.py", "from app import create_app", "schema/view.py:1 imports app"),
    ],
)
def test_an_upward_import_is_named(path: str, source: str, named: str) -> None:
    (violation,) = layering_violations([_module(path, source)], PROJECT)
    assert violation.startswith(named)


def test_what_each_layer_may_import_passes() -> None:
    allowed = [
        _module("db/x.py", "import asyncpg\nfrom db import models\nfrom . import paging"),
        _module("schema/x.py", "from db.engine import read\nfrom schema.types import user"),
        _module("schema/types/x.py", "from .. import errors\nfrom . import post"),
        _module("cli.py", "import app\nfrom settings import Settings"),
    ]
    assert layering_violations(allowed, PROJECT) == []


@pytest.mark.parametrize(
    "source",
    [
        "import os\nos.environ['X']",
        "import os\nos.getenv('X')",
        "import os\nos.environ.get('X')",
        "from os import environ",
        "from os import getenv as read\nread('X')",
        "import os as o\no.environb",
    ],
)
def test_a_read_of_the_environment_is_named(source: str) -> None:
    found = environment_reads([_module("schema/view.py", source)])
    assert found, source
    assert found[0].startswith("schema/view.py:")
    assert environment_reads([_module("settings.py", source)]) == []


def runtime_imports(module: Module) -> Iterator[str]:
    """What `module` imports when it runs: module-level imports, not those under
    `if TYPE_CHECKING:` (annotations only) or inside functions."""
    for node in module.tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            for _, name in imports(Module(module.path, ast.Module([node], []))):
                yield name
                if isinstance(node, ast.ImportFrom):  # `from package import module`
                    yield from (f"{name}.{alias.name}" for alias in node.names)


def import_cycles(modules: list[Module], package: str) -> list[str]:
    """Import cycles among the modules of `package` (e.g. "schema.types"), as paths."""
    name_of = {m.path.removesuffix(".py").replace("/", "."): m for m in modules}
    inside = {name: m for name, m in name_of.items() if name.startswith(package + ".")}
    edges = {
        name: {target for target in runtime_imports(m) if target in inside}
        for name, m in inside.items()
    }
    cycles, done = [], set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycles.append(" -> ".join([*path[path.index(name) :], name]))
            return
        if name in done:
            return
        for target in sorted(edges[name]):
            visit(target, [*path, name])
        done.add(name)

    for name in sorted(inside):
        visit(name, [])
    return cycles


def test_schema_types_import_no_circle(modules: list[Module]) -> None:
    # Types that refer to each other do it through Strawberry's lazy annotations.
    assert {"schema/types/user.py", "schema/types/post.py"} <= {m.path for m in modules}
    cycles = import_cycles(modules, "schema.types")
    assert not cycles, "\n".join(cycles)


def test_a_circle_is_found() -> None:
    planted = [
        Module("schema/types/a.py", ast.parse("from schema.types.b import B")),
        Module("schema/types/b.py", ast.parse("from schema.types import a\nimport os")),
    ]
    assert import_cycles(planted, "schema.types") == [
        "schema.types.a -> schema.types.b -> schema.types.a"
    ]
