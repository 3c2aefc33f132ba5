"""Property-based fuzzing of /graphql: no request, however hostile, breaks the rules.

Requests and the rules are in tests/fuzzing.py: documents generated from the served
schema by hypothesis-graphql (valid ones and ones with one violation) with hostile
scalar values, documents with hostile JSON variables, garbage documents and garbage
bodies, anonymous and signed in. Every answer must be below 500, carry an
x-request-id, be a JSON object with data and/or errors, and have no error coded
INTERNAL_SERVER_ERROR (or with a code API.md does not name).

The test collects every violation instead of stopping at the first, and lists each
kind with its shortest example. bench/fuzz.py runs the same with 10,000 examples.
"""

from __future__ import annotations

import asyncio

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from sqlalchemy.ext.asyncio import AsyncSession

from tests import fuzzing

EXAMPLES = 400


async def test_no_request_gets_a_5xx_or_an_internal_error(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tokens = await fuzzing.seed(session)
    findings = fuzzing.Findings()
    loop = asyncio.get_running_loop()

    # Hypothesis drives a plain function in a worker thread; each example's request runs
    # on the test's own event loop (where the app, its pools and the session live).
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(request=fuzzing.requests())
    def run(request: fuzzing.FuzzRequest) -> None:
        sent = fuzzing.send(client, session, tokens, request, findings)
        asyncio.run_coroutine_threadsafe(sent, loop).result(timeout=60)

    await asyncio.to_thread(run)
    assert findings.requests >= EXAMPLES // 2, findings.requests
    assert not findings.counts, findings.report()
