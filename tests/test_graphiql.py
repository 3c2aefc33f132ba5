"""GraphiQL from the service's own origin: the page, its policy, its files, a real browser.

The cheap tests read the page and its files through the ASGI app. The browser test runs
`cli.py serve` as a user runs it and drives the page in Debian's Chromium (through
playwright-core on Node.js, tests/graphiql_browser.cjs) with every host but 127.0.0.1
unresolvable: it types a query, runs it, signs in through the Headers tab, runs a
subscription, and checks that no request left the server's origin. Its screenshots go
to tests/artifacts/graphiql/.

Node.js, npm and Chromium are needed for the browser test: without them it is skipped,
visibly, on a developer's machine; in CI (`CI` set) their absence is a failure
(.ci/run installs them).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from schema.graphiql import GRAPHIQL_DIR
from tests.factories import make_post, make_token, make_user
from tests.node_tools import npm_folder, tool
from tests.processes import env, serving

ROOT = Path(__file__).resolve().parent.parent
BROWSER_SCRIPT = Path(__file__).resolve().parent / "graphiql_browser.cjs"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "graphiql"
PLAYWRIGHT_CORE = "1.65.2"
# What the brief for a browser on a build machine asks for. Playwright adds --headless
# itself, and launchPersistentContext gives Chromium a new, empty --user-data-dir.
CHROMIUM_ARGS = [
    "--no-sandbox",  # running as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Any host but the test server's address is unresolvable: nothing on the page may
    # come from elsewhere, and this machine could not fetch it anyway.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


class Page(HTMLParser):
    """What a page's markup would make a browser load or run."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []  # inline code or style: <style>, on*=, style=
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.urls.append(value)
            if name.startswith("on") or name == "style":
                self.inline.append(f"<{tag} {name}=...>")
        if tag == "script":
            self.scripts.append(named)
        if tag in ("script", "style"):
            self._in = tag
        if tag == "style":
            self.inline.append("<style>")

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script" and data.strip():
            self.inline.append(f"<script>{data.strip()[:40]}")


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


async def get_page(client: httpx.AsyncClient) -> httpx.Response:
    response = await client.get("/graphql", headers=HTML)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response


async def test_the_page_allows_nothing_but_its_own_origin(client: httpx.AsyncClient) -> None:
    response = await get_page(client)
    policy = directives(response.headers["content-security-policy"])

    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval
    assert policy["connect-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    # Styles: the page's own files, and the one <style> element GraphiQL adds, by the
    # nonce the start-up script's tag carries; never 'unsafe-inline'.
    [nonce] = re.findall(r'<script src="graphiql/storefront.js" nonce="([^"]+)">', response.text)
    assert policy["style-src"] == ["'self'", f"'nonce-{nonce}'"]
    # No directive names another host or scheme, save data: for the stylesheet's fonts.
    allowed = {"'self'", "'none'", f"'nonce-{nonce}'", "data:"}
    assert {value for values in policy.values() for value in values} <= allowed
    assert policy["font-src"] == policy["img-src"] == ["'self'", "data:"]
    assert response.headers["x-content-type-options"] == "nosniff"

    again = await get_page(client)
    assert nonce not in again.text  # a nonce for each response
    assert nonce not in again.headers["content-security-policy"]


async def test_the_page_loads_only_files_of_this_origin(client: httpx.AsyncClient) -> None:
    response = await get_page(client)
    page = Page()
    page.feed(response.text)

    assert page.inline == []
    assert page.scripts
    assert all(script.get("src") for script in page.scripts)
    assert len(page.urls) >= 9  # icon, 3 stylesheets, 5 scripts
    for url in page.urls:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("", ""), f"{url} names another origin"
        asset = await client.get(urljoin("http://test/graphql", url))
        assert asset.status_code == 200, url
        assert asset.headers["x-content-type-options"] == "nosniff"
        kind = {".js": "javascript", ".css": "text/css", ".svg": "image/svg+xml"}
        assert kind[Path(parts.path).suffix] in asset.headers["content-type"], url
    # Every vendored file is loaded by the page.
    loaded = {urlsplit(url).path for url in page.urls}
    vendored = {f"graphiql/vendor/{path.name}" for path in (GRAPHIQL_DIR / "vendor").iterdir()}
    assert vendored <= loaded


async def test_the_page_documents_signing_in(client: httpx.AsyncClient) -> None:
    script = await client.get("/graphiql/storefront.js")
    assert "logIn(input:" in script.text
    assert '{"Authorization": "Bearer <token>"}' in script.text
    assert "posts(first: 10)" in script.text


async def test_a_get_with_a_query_string_is_a_request_not_the_page(
    client: httpx.AsyncClient,
) -> None:
    accept = {"Accept": "text/html,application/json"}
    response = await client.get("/graphql?query={__typename}", headers=accept)
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/graphiql/LICENSES/THIRD-PARTY.txt", 200),
        ("/graphiql/LICENSES/graphiql.txt", 200),
        ("/graphiql/graphiql.html", 404),  # served at /graphql, with its policy
        ("/graphiql/vendor.py", 404),
        ("/graphiql/VERSIONS", 404),
        ("/graphiql/../app.py", 404),
    ],
)
async def test_the_mount_serves_only_the_page_s_files(
    client: httpx.AsyncClient, path: str, status: int
) -> None:
    response = await client.get(path)
    assert response.status_code == status


def test_the_vendored_files_are_the_pinned_releases() -> None:
    """VERSIONS (written by vendor.py) names every vendored file, its size and digest."""
    lines = (GRAPHIQL_DIR / "VERSIONS").read_text().splitlines()
    files = [line.split() for line in lines if line.startswith("vendor/")]
    assert {name for name, *_ in files} == {
        f"vendor/{path.name}" for path in (GRAPHIQL_DIR / "vendor").iterdir()
    }
    for name, size, digest, _source in files:
        data = (GRAPHIQL_DIR / name).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (int(size), digest), name
    packages = {
        name: version
        for name, version in (
            line.split(" ", 1) for line in lines if line and not line.startswith(("#", "vendor/"))
        )
    }
    assert packages["graphiql"] == "4.1.2"
    assert packages["@graphiql/plugin-explorer"] == "4.0.6"
    for package in ("react", "react-dom", "graphiql", "graphiql-plugin-explorer"):
        licence = (GRAPHIQL_DIR / "LICENSES" / f"{package}.txt").read_text()
        assert "Permission is hereby granted" in licence, package  # MIT, all four
    total = sum(path.stat().st_size for path in (GRAPHIQL_DIR / "vendor").iterdir())
    assert total < 3 * 1024 * 1024


# --- in a browser -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> tuple[str, str, Path]:
    """(node, chromium, a folder with playwright-core installed)."""
    node = tool("node", "the GraphiQL browser test runs playwright-core on Node.js")
    chromium = tool("chromium", "the GraphiQL browser test drives Debian's Chromium")
    folder = npm_folder("playwright-core", {"playwright-core": PLAYWRIGHT_CORE})
    return node, chromium, folder


TITLE = "Exploring Storefront offline"
FEED = "{ posts(first: 10) { edges { node { title author { username } tags { name } } } } }"


async def test_graphiql_runs_in_a_browser_that_reaches_only_this_origin(
    browser: tuple[str, str, Path],
    database_url: str,
    session: AsyncSession,
    tmp_path: Path,
) -> None:
    node, chromium, folder = browser
    ada = await make_user(session, username="ada")
    await make_post(session, ada.id, title=TITLE, tags=["graphiql", "offline"])
    token = await make_token(session, ada.id)
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    for old in ARTIFACTS.glob("*.png"):  # a screenshot from an earlier run misleads
        old.unlink()

    settings = env(DATABASE_URL=database_url, STOREFRONT_GRAPHIQL="1")
    async with serving(settings, tmp_path / "server") as served:
        await served.ready(60)
        config = {
            "url": f"{served.url}/graphql",
            "chromium": chromium,
            "chromiumArgs": CHROMIUM_ARGS,
            "userDataDir": str(profile),
            "screenshotDir": str(ARTIFACTS),
            "query": FEED,
            "expectTitle": TITLE,
            "headers": json.dumps({"Authorization": f"Bearer {token}"}),
            "viewerQuery": "{ viewer { username } }",
            "expectUsername": '"ada"',
            "token": token,
            "subscription": "subscription { postPublished { title author { username } } }",
            "publish": 'mutation { createPost(input: {title: "Fresh from the press", '
            'body: "Hello.", published: true}) { post { id } userErrors { message } } }',
            "expectPublished": "Fresh from the press",
        }
        ran = await asyncio.to_thread(
            subprocess.run,
            [node, str(BROWSER_SCRIPT), json.dumps(config)],
            cwd=folder,
            env={**os.environ, "NODE_PATH": str(folder / "node_modules")},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        origin = served.url
        server_log = served.stderr

    print(f"GraphiQL screenshots: {ARTIFACTS}/graphiql-feed.png, graphiql-signed-in.png")
    assert ran.returncode == 0, f"the browser script failed:\n{ran.stderr}"
    report: dict[str, Any] = json.loads(ran.stdout)
    problems = {key: report[key] for key in ("steps", "console", "pageErrors", "failedRequests")}
    assert "failedStep" not in report, (
        f"step {report.get('failedStep')!r} failed (screenshot: {ARTIFACTS}/"
        f"graphiql-failed.png): {report.get('error')}\n"
        f"{json.dumps(problems, indent=1)}\nthe server's log:\n{server_log[-3000:]}"
    )

    # No request left the origin: the page, its files, queries, the WebSocket.
    assert report["requests"], report
    outside = [url for url in report["requests"] if not url.startswith(f"{origin}/")]
    assert outside == [], outside
    ws_origin = "ws" + origin.removeprefix("http")
    assert report["websockets"], "the subscription opened no WebSocket"
    assert all(url.startswith(f"{ws_origin}/") for url in report["websockets"]), report
    assert report["failedRequests"] == []
    # Nothing refused by the policy, no script error (GraphiQL's own warnings aside).
    assert report["pageErrors"] == []
    assert [entry for entry in report["console"] if entry["type"] == "error"] == []

    steps = report["steps"]
    assert steps["page"]["status"] == 200
    assert "script-src 'self';" in steps["page"]["csp"]
    # The editor opens on the sign-in help and the feed; the Headers tab is open.
    assert "logIn(input:" in steps["defaultQuery"]
    assert '{"Authorization": "Bearer <token>"}' in steps["defaultQuery"]
    assert "posts(first: 10)" in steps["defaultQuery"]
    assert steps["openTool"] == "Headers"
    assert "posts" in steps["explorer"].split()  # the explorer lists the root fields

    assert steps["typedQuery"] == FEED
    feed = json.loads(steps["feed"]["text"])
    assert feed == {
        "data": {
            "posts": {
                "edges": [
                    {
                        "node": {
                            "title": TITLE,
                            "author": {"username": "ada"},
                            "tags": [{"name": "graphiql"}, {"name": "offline"}],
                        }
                    }
                ]
            }
        }
    }
    assert TITLE in steps["feed"]["shown"]  # on screen, not only in the editor's model

    assert steps["typedHeaders"] == config["headers"]
    assert json.loads(steps["viewer"]["text"]) == {"data": {"viewer": {"username": "ada"}}}

    # The subscription's WebSocket signed in with the Headers tab's token.
    init = json.loads(report["websocketMessages"][0])
    assert init == {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
    assert steps["publish"][0]["data"]["createPost"]["userErrors"] == []
    assert json.loads(steps["subscription"]) == {
        "data": {"postPublished": {"title": "Fresh from the press", "author": {"username": "ada"}}}
    }
    assert (ARTIFACTS / "graphiql-feed.png").stat().st_size > 10_000
