"""The served endpoint against graphql-http's audits of the GraphQL-over-HTTP specification.

`cli.py serve` runs as a user runs it (a child process on a real socket), and the npm
package `graphql-http` (pinned below, installed once into a folder of the system's
temporary directory) runs every server audit it ships against it: each MUST, SHOULD
and MAY. API.md promises responses that follow the specification, so every audit
must come back `ok`; a `warn` (a failed SHOULD) or a `notice` (a failed MAY) fails
this test as an `error` (a failed MUST) does.

Node and npm are needed. Without them the test is skipped, visibly, on a developer's
machine; in CI (`CI` set) their absence is a failure (.ci/run installs them).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.node_tools import npm_folder, tool

ROOT = Path(__file__).resolve().parent.parent
GRAPHQL_HTTP = "1.23.1"
GRAPHQL_JS = "16.15.0"  # graphql-http's peer dependency (its handler imports it)

AUDIT_SCRIPT = r"""
// Every server audit of graphql-http, as auditServer() runs them (all at once), except
// that an audit that throws (a fatal error: a connection reset, say) is reported as an
// error of its own instead of rejecting the whole run.
const { serverAudits } = require('graphql-http');

async function describe(result) {
  const out = { id: result.id, name: result.name, status: result.status };
  if (result.status === 'ok') return out;
  out.reason = result.reason;
  const res = result.response;
  if (res) {
    out.httpStatus = res.status;
    out.contentType = res.headers.get('content-type');
    out.requestId = res.headers.get('x-request-id');
    try {
      out.body = (await res.text()).slice(0, 300);
    } catch (err) {
      out.body = '(body already read)';
    }
  }
  return out;
}

(async () => {
  const audits = serverAudits({ url: process.argv[2] });
  const results = await Promise.all(
    audits.map(async ({ id, name, fn }) => {
      try {
        return await describe(await fn());
      } catch (err) {
        return { id, name, status: 'error', reason: 'fatal: ' + String((err && err.stack) || err) };
      }
    }),
  );
  process.stdout.write(JSON.stringify(results));
})().catch((err) => {
  process.stderr.write(String((err && err.stack) || err));
  process.exit(1);
});
"""


@pytest.fixture(scope="session")
def graphql_http() -> tuple[str, Path]:
    """(node, a folder with graphql-http installed and the audit script), cached per version."""
    node = tool("node", "the graphql-http audit needs Node.js and npm")
    packages = {"graphql-http": GRAPHQL_HTTP, "graphql": GRAPHQL_JS}
    return node, npm_folder("graphql-http", packages, {"audit.js": AUDIT_SCRIPT})


def _server_env(database_url: str) -> dict[str, str]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if name != "DATABASE_URL" and not name.startswith("STOREFRONT_")
    }
    return {**inherited, "DATABASE_URL": database_url}


def _start_serving(database_url: str, out: Path, err: Path) -> subprocess.Popen[bytes]:
    with out.open("wb") as stdout, err.open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "cli.py", "serve", "--port", "0"],
            cwd=ROOT,
            env=_server_env(database_url),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )


@asynccontextmanager
async def serving(database_url: str, folder: Path) -> AsyncIterator[str]:
    """`cli.py serve --port 0` on the suite's database; yields its /graphql URL.

    The server's standard error stays in `folder`/stderr."""
    out, err = folder / "stdout", folder / "stderr"
    process = _start_serving(database_url, out, err)
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r"serving (http://\S+/graphql)", out.read_text())):
            assert process.poll() is None, f"serve exited:\n{err.read_text()}"
            assert time.monotonic() < deadline, f"no address line:\n{err.read_text()}"
            await asyncio.sleep(0.2)
        url = found[1]
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                with suppress(httpx.TransportError):
                    response = await client.post(url, json={"query": "{ __typename }"})
                    assert response.json() == {"data": {"__typename": "Query"}}, response.text
                    break
                assert time.monotonic() < deadline, f"/graphql never answered:\n{err.read_text()}"
                await asyncio.sleep(0.2)
        yield url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _describe(result: dict[str, Any]) -> str:
    lines = [f"[{result['status']}] {result['id']} {result['name']}: {result.get('reason')}"]
    if "httpStatus" in result:
        lines.append(
            f"    got HTTP {result['httpStatus']}, content-type {result.get('contentType')!r}, "
            f"x-request-id {result.get('requestId')!r}, body {result.get('body')!r}"
        )
    return "\n".join(lines)


async def test_every_graphql_over_http_audit_passes(
    graphql_http: tuple[str, Path], database_url: str, tmp_path: Path
) -> None:
    node, folder = graphql_http
    async with serving(database_url, tmp_path) as url:
        ran = await asyncio.to_thread(
            subprocess.run,
            [node, str(folder / "audit.js"), url],
            cwd=folder,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert ran.returncode == 0, f"the audit script failed:\n{ran.stderr}"
    results: list[dict[str, Any]] = json.loads(ran.stdout)
    assert len(results) > 50, results  # graphql-http 1.23.1 ships 61 server audits
    failed = [result for result in results if result["status"] != "ok"]
    server_log = (tmp_path / "stderr").read_text().strip()
    assert not failed, (
        f"{len(failed)} of {len(results)} graphql-http {GRAPHQL_HTTP} audits did not pass:\n"
        + "\n".join(_describe(result) for result in failed)
        + (f"\n\nthe server's log (last lines):\n{server_log[-3000:]}" if server_log else "")
    )
