"""Requests for fuzzing /graphql, and what every answer must be (tests/test_fuzz.py, bench/fuzz.py).

Requests come from hypothesis strategies: documents generated from the served schema by
hypothesis-graphql (valid queries and mutations, and ones with one schema violation),
with hostile values for every scalar (lone surrogates, NUL, huge numbers, malformed
IDs, dates and decimals); documents of our own with hostile JSON variables; garbage
documents; garbage JSON bodies and bytes. Each is sent anonymously, signed in as a
user, as an admin, or with a bogus token, over POST (and GET for some).

Every answer, whatever was asked, must be (API.md "Transport" and "Errors"): not a
5xx; with an `x-request-id` header; a JSON object with `data` and/or `errors`; every
error with an `extensions.code` API.md names, never INTERNAL_SERVER_ERROR.
"""

from __future__ import annotations

import base64
import json
import re
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import graphql
import httpx
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries
from sqlalchemy.ext.asyncio import AsyncSession

from schema import build_schema
from schema.ids import encode_id
from tests.factories import (
    make_order,
    make_post,
    make_product,
    make_tag,
    make_token,
    make_user,
)

ROOT = Path(__file__).resolve().parent.parent
APP_SOURCES = tuple(str(ROOT / folder) for folder in ("app.py", "schema", "db"))
API_CODES = frozenset(
    {
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "BAD_USER_INPUT",
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "QUERY_TOO_COMPLEX",
        "PERSISTED_QUERY_NOT_FOUND",
        "RATE_LIMITED",
        "TIMEOUT",
        "INTERNAL_SERVER_ERROR",
    }
)
GRAPHQL_RESPONSE = "application/graphql-response+json"
SDL = build_schema().as_str()
NODE_TYPES = ("User", "Post", "Tag", "Product", "Order")

# --- hostile values ---------------------------------------------------------------------------

HOSTILE_TEXT = [
    "",
    " ",
    "\ud800",
    "\udfff",
    "a\ud800b",
    "\udc00\ud800",
    "\x00",
    "a\x00b",
    "\x00" * 10,
    "\u202e\u0000\ufeff",
    "\uffff",
    "🏃🏊",
    "%",
    "_",
    "\\",
    "%_\\",
    "' OR 1=1 --",
    '"; DROP TABLE users; --',
    "$1",
    "null",
    "NaN",
    "x" * 300,
    "é" * 5_000,
    "a" * 70_000,
]
ANY_CHARACTER = st.characters(codec=None, exclude_categories=())  # surrogates included
TEXT = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.text(ANY_CHARACTER, max_size=60),
    st.text(max_size=20),
)
INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
EDGE_INTS = st.sampled_from([0, 1, -1, 5, 10, 50, 100, 101, 1000, 1001, 2**31 - 1, -(2**31)])
HUGE_INTS = st.sampled_from([2**31, -(2**31) - 1, 2**63, 2**64 + 1, -(2**63) - 1, 10**40])
INTS = st.one_of(EDGE_INTS, EDGE_INTS, INT32, HUGE_INTS)


def _raw_id(type_name: str, pk: str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


IDS = st.one_of(
    st.builds(encode_id, st.sampled_from(NODE_TYPES), st.integers(min_value=1, max_value=8)),
    st.builds(encode_id, st.sampled_from(NODE_TYPES), st.integers(min_value=1, max_value=8)),
    st.builds(
        _raw_id,
        st.sampled_from([*NODE_TYPES, "Bogus", "", "user", "Post:1"]),
        st.sampled_from(["0", "-1", "1.5", "", "99999999999999999", "9" * 19, "9" * 40, "\u0661"]),
    ),
    st.sampled_from(["", "=", "====", "Post:1", "UG9zdDox==", "UG9zdDox\n", "%%%%", "x" * 65]),
    TEXT,
)
DATETIMES = st.one_of(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12, minutes=-30))]
        ),
    ).map(datetime.isoformat),
    st.sampled_from(
        [
            "2026-01-01T00:00:00+00:00",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00",  # naive
            "2026-01-01",
            "0001-01-01T00:00:00+14:00",  # before datetime.min in UTC
            "9999-12-31T23:59:59-14:00",  # after datetime.max in UTC
            "0000-01-01T00:00:00+00:00",
            "2026-02-30T00:00:00+00:00",
            "2026-01-01T24:00:00+00:00",
            "2026-01-01T00:00:00+24:00",
            "2026-01-01T00:00:00.9999999999+00:00",
            "+275760-09-13T00:00:00Z",
            "now",
            "1767225600",
        ]
    ),
    TEXT,
)
DECIMALS = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=2, max_value=10**6).map(str),
    st.sampled_from(
        [
            "19.99",
            "0",
            "-0",
            "-1",
            "0.001",
            "1e3",
            "1E-3",
            "1e1000",
            "1e-1000",
            "1e999999999",
            "NaN",
            "-NaN",
            "sNaN",
            "Infinity",
            "-Infinity",
            "9" * 400,
            "0." + "0" * 400 + "1",
            "1_000",
            " 1 ",
            "١٢",
        ]
    ),
    TEXT,
)


def _string_node(value: str) -> graphql.ValueNode:
    return nodes.String(value)


def _int_node(value: int) -> graphql.ValueNode:
    return nodes.Int(value)


SCALAR_NODES: Mapping[str, st.SearchStrategy[graphql.ValueNode]] = {
    "String": TEXT.map(_string_node),
    "ID": IDS.map(_string_node),
    "Int": INTS.map(_int_node),
    "DateTime": st.one_of(DATETIMES.map(_string_node), INTS.map(_int_node)),
    "Decimal": st.one_of(
        DECIMALS.map(_string_node),
        INTS.map(_int_node),
        st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
    ),
}

# --- documents --------------------------------------------------------------------------------

SCHEMA_DOCUMENTS = st.one_of(
    queries(SDL, custom_scalars=SCALAR_NODES),
    queries(SDL, custom_scalars=SCALAR_NODES),
    mutations(SDL, custom_scalars=SCALAR_NODES),
    mutations(SDL, custom_scalars=SCALAR_NODES),
    queries(SDL, custom_scalars=SCALAR_NODES, mode=Mode.NEGATIVE),
    mutations(SDL, custom_scalars=SCALAR_NODES, mode=Mode.NEGATIVE),
)

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    INTS,
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(TEXT, children, max_size=4)
    ),
    max_leaves=12,
)


def _sometimes(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly `strategy`, now and then any JSON value at all (a wrong type)."""
    return st.one_of(strategy, strategy, strategy, JSON_VALUES)


def _input(
    required: Mapping[str, st.SearchStrategy[Any]],
    optional: Mapping[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[Any]:
    return _sometimes(
        st.fixed_dictionaries(
            {k: _sometimes(v) for k, v in required.items()},
            optional={k: _sometimes(v) for k, v in (optional or {}).items()},
        )
    )


POST_FILTER = _input(
    {},
    {
        "published": st.booleans(),
        "authorUsername": TEXT,
        "tag": TEXT,
        "search": TEXT,
        "createdAfter": DATETIMES,
        "createdBefore": DATETIMES,
    },
)
PAGE = {"first": INTS, "after": TEXT, "last": INTS, "before": TEXT}
CONNECTION = "totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id } }"

# (document, strategies of its variables)
TEMPLATES: list[tuple[str, dict[str, st.SearchStrategy[Any]]]] = [
    (
        "query ($first: Int, $after: String, $last: Int, $before: String, $search: String) {"
        " users(first: $first, after: $after, last: $last, before: $before, search: $search)"
        f" {{ {CONNECTION} }} }}",
        {**PAGE, "search": TEXT},
    ),
    (
        "query ($first: Int, $after: String, $last: Int, $before: String, $filter: PostFilter,"
        " $orderBy: PostOrder) { posts(first: $first, after: $after, last: $last,"
        " before: $before, filter: $filter, orderBy: $orderBy)"
        f" {{ {CONNECTION} edges {{ node {{ title author {{ username }} tags {{ name }} }} }} }}"
        " }",
        {**PAGE, "filter": POST_FILTER, "orderBy": st.sampled_from(["NEWEST", "OLDEST", "TITLE"])},
    ),
    (
        "query ($first: Int, $after: String, $search: String, $inStock: Boolean) {"
        " products(first: $first, after: $after, search: $search, inStock: $inStock)"
        f" {{ {CONNECTION} edges {{ node {{ sku price stock unitsSold }} }} }} }}",
        {"first": INTS, "after": TEXT, "search": TEXT, "inStock": st.booleans()},
    ),
    (
        "query ($first: Int, $after: String, $search: String) {"
        f" tags(first: $first, after: $after, search: $search) {{ {CONNECTION} }} }}",
        {"first": INTS, "after": TEXT, "search": TEXT},
    ),
    (
        "query ($first: Int, $after: String, $status: OrderStatus) {"
        " orders(first: $first, after: $after, status: $status)"
        f" {{ {CONNECTION} edges {{ node {{ status total items {{ quantity }} }} }} }} }}",
        {
            "first": INTS,
            "after": TEXT,
            "status": st.sampled_from(["PENDING", "PAID", "SHIPPED", "CANCELLED", "LOST"]),
        },
    ),
    (
        "query ($id: ID!) { node(id: $id) { id __typename ... on User { username email"
        " orders { totalCount } } ... on Order { total } } post(id: $id) { id } }",
        {"id": IDS},
    ),
    ("query ($ids: [ID!]!) { nodes(ids: $ids) { id __typename } }", {"ids": st.lists(IDS)}),
    (
        "query ($u: String!, $t: String!, $s: String!) { user(username: $u) { id"
        " posts(first: 3) { totalCount } } tag(name: $t) { id postCount } product(sku: $s)"
        " { id } viewer { id email } }",
        {"u": TEXT, "t": TEXT, "s": TEXT},
    ),
    (
        "mutation ($input: SignUpInput!) { signUp(input: $input)"
        " { token user { id } userErrors { field code } } }",
        {"input": _input({"username": TEXT, "email": TEXT, "password": TEXT}, {"fullName": TEXT})},
    ),
    (
        "mutation ($input: LogInInput!) { logIn(input: $input)"
        " { token user { id } userErrors { field code } } }",
        {"input": _input({"login": TEXT, "password": TEXT})},
    ),
    (
        "mutation ($input: CreatePostInput!) { createPost(input: $input)"
        " { post { id title tags { name } } userErrors { field code } } }",
        {
            "input": _input(
                {"title": TEXT, "body": TEXT},
                {"tags": st.lists(TEXT, max_size=12), "published": st.booleans()},
            )
        },
    ),
    (
        "mutation ($input: UpdatePostInput!) { updatePost(input: $input)"
        " { post { id title } userErrors { field code } } }",
        {
            "input": _input(
                {"id": IDS},
                {
                    "title": TEXT,
                    "body": TEXT,
                    "tags": st.lists(TEXT, max_size=12),
                    "published": st.booleans(),
                },
            )
        },
    ),
    (
        "mutation ($id: ID!) { deletePost(id: $id) { deletedId userErrors { field code } } }",
        {"id": IDS},
    ),
    (
        "mutation ($input: CreateProductInput!) { createProduct(input: $input)"
        " { product { id price } userErrors { field code } } }",
        {"input": _input({"sku": TEXT, "name": TEXT, "price": DECIMALS, "stock": INTS})},
    ),
    (
        "mutation ($id: ID!, $quantity: Int!) { restockProduct(id: $id, quantity: $quantity)"
        " { product { stock } userErrors { field code } } }",
        {"id": IDS, "quantity": INTS},
    ),
    (
        "mutation ($input: PlaceOrderInput!) { placeOrder(input: $input)"
        " { order { id total } userErrors { field code } } }",
        {
            "input": _input(
                {"items": st.lists(_input({"productId": IDS, "quantity": INTS}), max_size=60)},
                {"idempotencyKey": TEXT},
            )
        },
    ),
    (
        "mutation ($id: ID!) { cancelOrder(id: $id) { order { status } userErrors { code } } }",
        {"id": IDS},
    ),
    (
        "mutation ($id: ID!, $status: OrderStatus!) { updateOrderStatus(id: $id,"
        " status: $status) { order { status } userErrors { code } } }",
        {"id": IDS, "status": st.sampled_from(["PENDING", "PAID", "SHIPPED", "CANCELLED", "X"])},
    ),
]


@st.composite
def _templated(draw: st.DrawFn) -> dict[str, Any]:
    document, variables = draw(st.sampled_from(TEMPLATES))
    names = list(variables)
    chosen = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    values = {name: draw(_sometimes(variables[name])) for name in chosen}
    return {"query": document, "variables": values}


@st.composite
def _mangled(draw: st.DrawFn) -> str:
    """A schema document cut short, with characters put in, or repeated."""
    document: str = draw(SCHEMA_DOCUMENTS)
    how = draw(st.sampled_from(["cut", "insert", "repeat"]))
    at = draw(st.integers(min_value=0, max_value=len(document)))
    if how == "cut":
        return document[:at]
    if how == "insert":
        return document[:at] + draw(st.text(ANY_CHARACTER, min_size=1, max_size=5)) + document[at:]
    return document * draw(st.integers(min_value=2, max_value=40))


GARBAGE_DOCUMENTS = st.one_of(
    st.text(ANY_CHARACTER, max_size=200),
    st.sampled_from(
        [
            "",
            "{",
            "}",
            "{ __typename",
            "query",
            "mutation",
            "subscription { postPublished { id } }",
            "{ __schema { types { name } } }",
            "fragment F on Query { ...F } { ...F }",
            "{ a: __typename b: __typename }",
            "{ " + "users { edges { node { posts { edges { node { author { " * 4 + "}" * 40,
            "{ " + " ".join(f"a{i}: __typename" for i in range(200)) + " }",
            '{ __typename @include(if: "yes") }',
            "query ($a: Int = 99999999999) { users(first: $a) { totalCount } }",
            "query Q { __typename } query Q { __typename }",
            "# only a comment",
            "{ __typename }\x00",
            '{ users(search: "\\u{110000}") { totalCount } }',
            '{ users(search: """\ud800""") { totalCount } }',
        ]
    ),
    _mangled(),
)

# --- requests ---------------------------------------------------------------------------------

VIEWERS = ("anonymous", "user", "admin", "bogus")
ACCEPTS = (None, "application/json", GRAPHQL_RESPONSE, "*/*", "text/html", "application/xml")


@dataclass(frozen=True)
class FuzzRequest:
    method: str
    viewer: str
    headers: tuple[tuple[str, str], ...]
    content: bytes | None = None
    params: tuple[tuple[str, str], ...] = ()

    def describe(self, limit: int = 700) -> str:
        if self.content is not None:
            what = self.content.decode("utf-8", "backslashreplace")
        else:
            what = "?" + "&".join(f"{k}={v!r}" for k, v in self.params)
        if len(what) > limit:
            what = what[:limit] + f"... ({len(what)} characters)"
        headers = ", ".join(f"{k}: {v}" for k, v in self.headers)
        return f"{self.method} as {self.viewer} [{headers}] {what}"


def _dumps(payload: object) -> bytes:
    """As a browser's JSON.stringify sends it: lone surrogates as \\u escapes."""
    return json.dumps(payload).encode()


@st.composite
def _payloads(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["schema", "schema", "templated", "templated", "garbage"]))
    if kind == "templated":
        return draw(_templated())
    document = draw(SCHEMA_DOCUMENTS if kind == "schema" else GARBAGE_DOCUMENTS)
    payload: dict[str, Any] = {"query": document}
    if draw(st.integers(min_value=0, max_value=5)) == 0:
        payload["variables"] = draw(st.dictionaries(TEXT, JSON_VALUES, max_size=3))
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        payload["operationName"] = draw(st.one_of(TEXT, JSON_VALUES))
    if draw(st.integers(min_value=0, max_value=14)) == 0:
        payload["extensions"] = draw(JSON_VALUES)
    return payload


GARBAGE_BODIES = st.one_of(
    JSON_VALUES.map(_dumps),
    st.dictionaries(
        st.sampled_from(["query", "variables", "operationName", "extensions", "id"]),
        JSON_VALUES,
    ).map(_dumps),
    st.binary(max_size=200),
    st.text(ANY_CHARACTER, max_size=100).map(lambda s: s.encode("utf-8", "surrogatepass")),
)


@st.composite
def requests(draw: st.DrawFn) -> FuzzRequest:
    viewer = draw(st.sampled_from(VIEWERS))
    accept = draw(st.sampled_from(ACCEPTS))
    headers: list[tuple[str, str]] = [] if accept is None else [("accept", accept)]
    shape = draw(st.sampled_from(["post"] * 6 + ["get", "garbage"]))
    if shape == "garbage":
        content_type = draw(
            st.sampled_from(["application/json", "application/json; charset=utf-8", None])
        )
        if content_type is not None:
            headers.append(("content-type", content_type))
        return FuzzRequest("POST", viewer, tuple(headers), content=draw(GARBAGE_BODIES))
    payload = draw(_payloads())
    if shape == "get":
        params = tuple(
            (key, value if isinstance(value, str) else json.dumps(value))
            for key, value in payload.items()
        )
        return FuzzRequest("GET", viewer, tuple(headers), params=params)
    headers.append(("content-type", "application/json"))
    return FuzzRequest("POST", viewer, tuple(headers), content=_dumps(payload))


# --- the service under fuzzing ----------------------------------------------------------------


@dataclass
class Tokens:
    user_id: int
    admin_id: int
    user: str
    admin: str
    bogus: str = "not-a-token-" + "0" * 32

    async def renew(self, session: AsyncSession) -> None:
        """New tokens, for when a logOut may have revoked the old ones."""
        self.user = await make_token(session, self.user_id)
        self.admin = await make_token(session, self.admin_id)

    def header(self, viewer: str) -> dict[str, str]:
        token = {"user": self.user, "admin": self.admin, "bogus": self.bogus}.get(viewer)
        return {} if token is None else {"authorization": f"Bearer {token}"}


async def seed(session: AsyncSession) -> Tokens:
    """A few rows of everything, so that reads find something; tokens for two viewers."""
    user = await make_user(session, username="fuzz_user", full_name="Fuzz User")
    admin = await make_user(session, username="fuzz_admin", is_admin=True)
    for name in ("alpha", "beta"):
        await make_tag(session, name)
    for n in range(4):
        await make_post(session, user.id, published=n % 2 == 0, tags=["alpha", "beta"][: n % 3])
    await make_post(session, admin.id, published=False)
    products = [await make_product(session, stock=stock) for stock in (0, 5, 1000)]
    await make_order(session, user.id, [(products[1], 1), (products[2], 3)])
    await make_order(session, admin.id, [(products[2], 1)])
    tokens = Tokens(user.id, admin.id, "", "")
    await tokens.renew(session)
    return tokens


@dataclass
class Findings:
    """Every violation seen, grouped by what went wrong; one (the shortest) example each."""

    requests: int = 0
    examples: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, request: FuzzRequest, detail: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        example = f"{request.describe()}\n      -> {detail}"
        if kind not in self.examples or len(example) < len(self.examples[kind]):
            self.examples[kind] = example

    def report(self) -> str:
        lines = [
            f"{sum(self.counts.values())} violations of {len(self.counts)} kinds "
            f"in {self.requests} requests:"
        ]
        for kind, count in sorted(self.counts.items(), key=lambda item: -item[1]):
            lines.append(f"  [{count}x] {kind}\n    e.g. {self.examples[kind]}")
        return "\n".join(lines)


def _generalise(text: str) -> str:
    """A refusal's text without what varies from request to request: quoted names, numbers."""
    return re.sub(r"\d+", "N", re.sub(r'".*', '"..."', text, flags=re.DOTALL))


def _raised_at(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(APP_SOURCES)]
    frame = ours[-1] if ours else (frames[-1] if frames else None)
    if frame is None:
        return "?"
    return f"{Path(frame.filename).name}:{frame.lineno} ({frame.name})"


async def send(
    client: httpx.AsyncClient,
    session: AsyncSession,
    tokens: Tokens,
    request: FuzzRequest,
    findings: Findings,
) -> httpx.Response | None:
    """Send one request and record every rule its answer breaks."""
    try:
        return await _send(client, tokens, request, findings)
    finally:
        if b"logOut" in (request.content or b"") or any("logOut" in v for _, v in request.params):
            await tokens.renew(session)


async def _send(
    client: httpx.AsyncClient, tokens: Tokens, request: FuzzRequest, findings: Findings
) -> httpx.Response | None:
    headers = dict(request.headers) | tokens.header(request.viewer)
    try:
        # Percent-encoded UTF-8, a lone surrogate as the (invalid) bytes it would have.
        query = urlencode(request.params, encoding="utf-8", errors="surrogatepass")
        built = client.build_request(
            request.method,
            "/graphql" + (f"?{query}" if query else ""),
            content=request.content,
            headers=headers,
        )
    except httpx.InvalidURL:  # a query string longer than httpx sends
        return None
    findings.requests += 1
    try:
        response = await client.send(built)
    except Exception as exc:
        kind = f"the app raised {type(exc).__name__} at {_raised_at(exc)} (HTTP 500)"
        findings.add(kind, request, repr(exc)[:300])
        return None
    check(response, request, findings)
    return response


def check(response: httpx.Response, request: FuzzRequest, findings: Findings) -> None:
    status = response.status_code
    shown = response.content[:300].decode("utf-8", "replace")
    detail = f"HTTP {status} {response.headers.get('content-type')!r}: {shown}"
    try:
        body = response.json()
    except ValueError:
        body = None
        # Named by its text (Strawberry's plain-text refusals say what they refuse).
        answer = f"HTTP {status} {_generalise(shown[:70])!r}"
        findings.add(f"{answer}: a body that is not JSON", request, detail)
    else:
        answer = f"HTTP {status}"
    if status >= 500:
        findings.add(f"HTTP {status}", request, detail)
    if not response.headers.get("x-request-id"):
        findings.add(f"{answer}: no x-request-id", request, detail)
    if body is None:
        return
    if not isinstance(body, dict) or not ({"data", "errors"} & body.keys()):
        findings.add(f"HTTP {status} with neither data nor errors", request, detail)
        return
    errors = body.get("errors")
    if errors is None:
        return
    if not isinstance(errors, list) or not errors:
        findings.add("errors is not a non-empty list", request, detail)
        return
    for error in errors:
        code = ((error.get("extensions") or {}) if isinstance(error, dict) else {}).get("code")
        if code == "INTERNAL_SERVER_ERROR":
            path = ".".join(p for p in error.get("path") or [] if isinstance(p, str)) or "(none)"
            operation = ROOT_FIELDS.get(path.split(".")[0], "query")
            findings.add(f"INTERNAL_SERVER_ERROR in a {operation} at {path}", request, detail)
        elif code not in API_CODES:
            findings.add(f"an error with code {code!r}, not one API.md names", request, detail)


_SCHEMA = graphql.build_schema(SDL)
ROOT_FIELDS = {
    name: kind
    for kind, root in (
        ("subscription", _SCHEMA.subscription_type),
        ("mutation", _SCHEMA.mutation_type),
    )
    for name in (root.fields if root is not None else {})
}
