"""Objects answered inline (schema/executor/inline.py) are answered exactly as Strawberry
answers them: on every bench query, anonymous, signed in and as an admin, and on
documents that lean on what an inline plan must get right (aliases, merged fields,
__typename, resolvers of the object, nulls, @skip by variable)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bench.queries import ALL, Fixtures
from db.accounts import Viewer
from db.statement_counter import counting
from schema import pagination
from schema.context import Context, Services
from schema.executor import inline, run
from schema.executor.fast_path import FastPath
from schema.ids import encode_id
from schema.types import order as order_type
from schema.types import post as post_type
from schema.types import user as user_type
from schema.types.product import Product
from schema.types.tag import Tag
from schema.types.user import User
from tests.schema.test_fast import SCHEMA, dataset, same_as_strawberry

CORPUS = [
    # A page answered inline from its connection down, with the node's own resolver (id)
    # and the edge's (cursor) beside riding relations.
    "{ posts(first: 5) { edges { cursor node { __typename id title body published createdAt "
    "author { id username fullName } tags { __typename name } } } "
    "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }",
    # Aliases, a field asked twice, and a fragment: one key each, in the document's order.
    "query($id: ID!) { post(id: $id) { t: title title ...P author { u: username username } "
    "tags { n: name name } } } fragment P on Post { title body tags { name } }",
    # A post that is not there (null, nothing below it built).
    'query { post(id: "UG9zdDow") { title tags { name } } }',
    # A plan per run when @skip depends on the variables.
    "query($skip: Boolean!) { posts(first: 3) { edges { node { title @skip(if: $skip) "
    "tags @include(if: $skip) { name } } } } }",
    # Inline below a level that is not: a user's page under the users' list.
    "{ users(first: 5) { edges { node { username postCount "
    "posts(first: 2) { edges { cursor node { title author { username } } } } } } } }",
    # Tags read off their tuples beside tags that need their objects (id is a resolver),
    # and tags asked for something no tuple holds (their own posts, a level below).
    "{ posts(first: 4) { edges { node { a: tags { name } b: tags { id name } "
    "c: tags { name postCount } } } } }",
    # Every column of a post and of its author, read straight off the page's rows.
    "{ posts(first: 5) { edges { __typename node { __typename title body published "
    "publishedAt createdAt updatedAt author { __typename username fullName createdAt } "
    "tags { name } } } } }",
    # Rows of pages by parent, below a level that is not answered inline.
    "{ tags(first: 3) { edges { node { name posts(first: 2) { edges { node { title "
    "author { username } } } } } } } }",
    # Orders read off their rows: the customer's columns, values riding in the row
    # (itemCount, total) and lists made from it (items); the status needs the objects.
    "{ orders(first: 3) { edges { node { createdAt customer { username createdAt } "
    "items { quantity unitPrice subtotal product { name price } } itemCount total } } } }",
    "{ orders(first: 3) { edges { node { status customer { username } } } } }",
    # Tags' and products' own pages, off their rows.
    "{ tags(first: 3) { edges { node { id name } } } "
    "products(first: 3) { edges { node { id sku name price stock } } } }",
    # Tags read off one column (their names, asked twice), or off none at all.
    "{ posts(first: 4) { edges { node { a: tags { name n: name } b: tags { __typename } } } } }",
    # Users answered off their rows, each with the page of posts read ahead with them;
    # beside it, the same with what the pages read ahead cannot answer: a second page of
    # another size, a count, a user's field that is no column.
    "{ users(first: 4) { __typename edges { node { __typename id username ...U } } "
    "pageInfo { hasNextPage endCursor } } } fragment U on User { posts(first: 2) { "
    "pageInfo { hasNextPage startCursor } edges { node { id title tags { name } } } } }",
    "{ users(first: 4) { edges { node { username a: posts(first: 2) { edges { node { title } } } "
    "b: posts(first: 1) { edges { node { title } } } } } } }",
    "{ users(first: 4) { edges { node { username posts(first: 2) { totalCount "
    "edges { node { title } } } } } } }",
    "{ users(first: 4) { edges { node { email posts(first: 2) { edges { node { title } } } } } } }",
    # A connection whose objects come from rows without riding relations (nodes by ID).
    "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Post { title tags { name } "
    "author { username } } } }",
]


async def _dataset(session: AsyncSession) -> dict[str, Any]:
    data = await dataset(session)
    post = data["post"]
    return {
        **data,
        "fixtures": Fixtures("ann", post.id, encode_id("Post", post.id)),
        "variables": {"id": encode_id("Post", post.id), "ids": data["ids"][:4]},
    }


@pytest.fixture
def inlined(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many fields each request answered inline (counted where run.py calls it)."""
    answered: list[int] = []
    original = inline.complete_inline

    def counted(*args: Any) -> Any:
        result = original(*args)
        answered.append(len(result[0]))
        return result

    monkeypatch.setattr(run, "complete_inline", counted)
    return answered


async def _lean_data(services: Services, query: str, viewer: Viewer | None) -> Any:
    """The lean executor's data for `query`, which must answer it without errors."""
    answer = await FastPath(SCHEMA).execute(query, {}, None, Context(services, viewer, "t"))
    assert answer is not None
    assert "errors" not in answer.payload
    return answer.payload["data"]


def _made(monkeypatch: pytest.MonkeyPatch, module: Any, constructor: str) -> list[Any]:
    """The fields of each object `module.<constructor>` makes from now on."""
    made: list[Any] = []
    original = getattr(module, constructor)

    def counted(**fields: Any) -> Any:
        made.append(fields)
        return original(**fields)

    monkeypatch.setattr(module, constructor, counted)
    return made


@pytest.mark.parametrize("query", ALL, ids=lambda q: q.label)
async def test_bench_queries_inline_as_strawberry_answers(
    session: AsyncSession, services: Services, inlined: list[int], query: Any
) -> None:
    data = await _dataset(session)
    body = query.body("storefront", data["fixtures"])
    await same_as_strawberry(services, body["query"], body["variables"], data["viewers"])
    assert inlined, "no field of the bench query was answered inline"


@pytest.mark.parametrize("query", CORPUS)
async def test_documents_inline_as_strawberry_answers(
    session: AsyncSession, services: Services, inlined: list[int], query: str
) -> None:
    data = await _dataset(session)
    for skip in (False, True):
        variables = {**data["variables"], "skip": skip}
        await same_as_strawberry(services, query, variables, data["viewers"])
    assert inlined


@pytest.mark.parametrize("loops", [1, 2])
@pytest.mark.parametrize("query", CORPUS)
async def test_plans_past_their_nesting_bound_call_the_plans_below(
    session: AsyncSession,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    inlined: list[int],
    query: str,
    loops: int,
) -> None:
    """Past MAX_LOOPS nested loops, a plan's source calls the plan of the objects below
    instead of holding it; the answers must not change."""
    monkeypatch.setattr(inline, "MAX_LOOPS", loops)
    data = await _dataset(session)
    # A text of its own, so that no plan made under the real bound is reused.
    query = f"{query}\n# at most {loops} loops"
    for skip in (False, True):
        variables = {**data["variables"], "skip": skip}
        await same_as_strawberry(services, query, variables, data["viewers"])
    assert inlined


@pytest.mark.parametrize(
    ("selection", "made"),
    [("tags { name }", False), ("tags { __typename t: name }", False), ("tags { id }", True)],
)
async def test_tags_read_off_their_tuples_make_no_objects(
    session: AsyncSession,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    selection: str,
    made: bool,
) -> None:
    await _dataset(session)
    tags_made = _made(monkeypatch, post_type, "_new_tag")
    query = f"{{ posts(first: 5) {{ edges {{ node {{ {selection} }} }} }} }}"

    answered = await _lean_data(services, query, None)
    edges = answered["posts"]["edges"]
    assert sum(len(edge["node"]["tags"]) for edge in edges) > 0
    assert bool(tags_made) is made


@pytest.mark.parametrize(
    ("selection", "made"),
    [
        ("edges { node { title body author { username fullName } tags { name } } }", False),
        ("edges { __typename node { __typename createdAt author { createdAt } } }", False),
        # Tags made from the row (their id is a resolver), their post still not.
        ("edges { node { title tags { id } } }", False),
        # The global ID is made from the row's key; the author's too.
        ("edges { node { id title author { id } } }", False),
        # The edge's own resolver (cursor) needs the objects.
        ("edges { cursor node { title } }", True),
    ],
)
async def test_pages_read_straight_off_their_rows_make_no_objects(
    session: AsyncSession,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    selection: str,
    made: bool,
) -> None:
    """Where the document reads only columns and riding relations of a page's nodes, no
    edge or post is made; where it reads more, they are, and the answer is the same."""
    data = await _dataset(session)
    posts_made = _made(monkeypatch, post_type, "_new_post")
    edges_made = _made(monkeypatch, pagination, "_new_edge")
    query = f"{{ posts(first: 5) {{ {selection} }} }}"

    answered = await _lean_data(services, query, None)
    assert len(answered["posts"]["edges"]) == 5
    assert bool(posts_made) is made
    assert bool(edges_made) is made
    await same_as_strawberry(services, query, {}, data["viewers"])


@pytest.mark.parametrize(
    ("selection", "connections"),
    [
        # The users' own connection, and none for their pages: only edges are read.
        ("username posts(first: 3) { edges { node { title tags { name } } } }", 1),
        # Each user's page of posts as a connection too, for its pageInfo.
        ("username posts(first: 3) { pageInfo { hasNextPage } edges { node { id } } }", 4),
    ],
)
async def test_pages_read_ahead_make_a_connection_only_when_one_is_read(
    session: AsyncSession,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    selection: str,
    connections: int,
) -> None:
    # The bench's c: each user's page is answered as it was read (planning.py,
    # `plan_for_pages`), unless the document reads more of it than its edges.
    from schema import relationships

    data = await _dataset(session)
    made = _called(monkeypatch, relationships, "connection_of")
    query = f"{{ users(first: 5) {{ edges {{ node {{ {selection} }} }} }} }}"

    answered = await _lean_data(services, query, None)

    assert len(answered["users"]["edges"]) == 3
    assert len(made) == connections
    await same_as_strawberry(services, query, {}, data["viewers"])


def _called(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[Any]:
    """The arguments of each call of `module.<name>` from now on."""
    calls: list[Any] = []
    original = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.parametrize(
    ("selection", "made"),
    [
        ("username posts(first: 3) { edges { node { title tags { name } } } }", False),
        ("id username posts(first: 3) { pageInfo { hasNextPage } edges { node { id } } }", False),
        # What the pages read ahead do not answer: the users are made, the walk answers.
        ("username posts(first: 3) { totalCount edges { node { title } } }", True),
        ("username postCount posts(first: 3) { edges { node { title } } }", True),
        ("a: posts(first: 3) { edges { node { title } } } b: posts(first: 3) { __typename }", True),
    ],
)
async def test_users_read_off_their_rows_with_their_pages_read_ahead(
    session: AsyncSession,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    selection: str,
    made: bool,
) -> None:
    """A list of users whose pages of posts came in its own statement is answered off
    the users' rows and those pages, as the bench's c is, with no user, post or edge
    made; where the document reads more, they are made, and the answer is the same."""
    data = await _dataset(session)
    users_made = _made(monkeypatch, user_type, "_new_user")
    posts_made = _made(monkeypatch, post_type, "_new_post")
    edges_made = _made(monkeypatch, pagination, "_new_edge")
    query = f"{{ users(first: 5) {{ edges {{ node {{ {selection} }} }} }} }}"

    answered = await _lean_data(services, query, None)
    assert len(answered["users"]["edges"]) == 3  # every user of the dataset
    assert bool(users_made) is made
    assert bool(edges_made) is made
    assert not posts_made or made
    await same_as_strawberry(services, query, {}, data["viewers"])


@pytest.mark.parametrize(
    "users",
    [
        "username posts(first: 2) { edges { node { title published } } }",
        "username posts(first: 2) { totalCount edges { node { title } } }",
    ],
)
async def test_pages_read_ahead_serve_another_field_asking_the_same(
    session: AsyncSession, services: Services, users: str
) -> None:
    """The users' pages read ahead are primed for any field with the same arguments
    (the viewer's own posts beside the list), whether the list is answered off its rows
    or walked: that field costs no statement of its own."""
    data = await _dataset(session)
    ann = data["viewers"][1]
    viewer = Viewer(ann.id, ann.is_admin, 0)
    posts = "posts(first: 2) { edges { node { title published } } }"
    users_list = f"users(first: 10) {{ edges {{ node {{ {users} }} }} }}"

    with counting() as alone:
        await _lean_data(services, f"{{ viewer {{ username }} {users_list} }}", viewer)
    with counting() as beside:
        answered = await _lean_data(services, f"{{ viewer {{ {posts} }} {users_list} }}", viewer)

    assert answered["viewer"]["posts"]["edges"], "ann has posts"
    assert beside.count == alone.count


@pytest.mark.parametrize(
    ("selection", "walked"),
    [
        ("username posts(first: 3) { edges { node { title tags { name } } } }", False),
        ("id postCount posts(first: 3) { pageInfo { hasNextPage } edges { node { id } } }", False),
        # What was not read ahead with the user: the level below the user is walked.
        ("posts(first: 3) { totalCount edges { node { title } } }", True),
        ("a: posts(first: 3) { edges { node { title } } } b: posts(first: 1) { __typename }", True),
        ("email posts(first: 3) { edges { node { title } } }", True),
    ],
)
async def test_a_user_page_read_ahead_is_answered_off_the_user(
    session: AsyncSession,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    selection: str,
    walked: bool,
) -> None:
    """`user(username:)` reads the user's page of posts (and postCount) in its own
    statement; where nothing else below the user needs a level, the answer is built off
    the user and what was read with it, at the root level alone."""
    data = await _dataset(session)
    levels: list[int] = []
    original = run.Run._resolve_level
    lookup = run.Run._lookup

    async def counted(self: run.Run, level: Any) -> Any:
        levels.append(len(level))
        return await original(self, level)

    async def looked_up(self: run.Run, group: Any, *args: Any) -> Any:
        levels.append(1)  # the root level, as a lone lookup resolves it
        return await lookup(self, group, *args)

    monkeypatch.setattr(run.Run, "_resolve_level", counted)
    monkeypatch.setattr(run.Run, "_lookup", looked_up)
    query = f'{{ user(username: "ann") {{ {selection} }} }}'

    answered = await _lean_data(services, query, None)
    assert answered["user"] is not None
    assert len(levels) > 1 if walked else len(levels) == 1
    await same_as_strawberry(services, query, {}, data["viewers"])


@pytest.mark.parametrize(
    ("items", "made"),
    [
        ("quantity unitPrice product { name price }", False),
        ("product { __typename sku stock } p: product { name }", False),
        # A product's id and an item's subtotal are resolvers: the objects are made.
        ("quantity product { id }", True),
        ("subtotal product { name }", True),
    ],
)
async def test_order_items_read_off_their_tuples_make_no_objects(
    session: AsyncSession,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    items: str,
    made: bool,
) -> None:
    """An order's items, and each item's product, are answered off the tuples that rode
    in the order's row where nothing else of them is read."""
    data = await _dataset(session)
    admin = data["viewers"][-1]
    items_made = _made(monkeypatch, order_type, "_new_item")
    products_made = _made(monkeypatch, order_type, "_new_product")
    query = f"{{ orders(first: 5) {{ edges {{ node {{ items {{ {items} }} }} }} }} }}"

    answered = await _lean_data(services, query, Viewer(admin.id, admin.is_admin, 0))
    assert sum(len(edge["node"]["items"]) for edge in answered["orders"]["edges"]) > 0
    assert bool(items_made) is made
    assert bool(products_made) is made
    await same_as_strawberry(services, query, {}, data["viewers"])


@pytest.mark.parametrize(
    ("selection", "made"),
    [
        ("customer { username } items { quantity product { name } } itemCount total", False),
        # Its status is an enum made from the column's text: the orders are made.
        ("status total", True),
    ],
)
async def test_orders_read_straight_off_their_rows_make_no_orders(
    session: AsyncSession,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    selection: str,
    made: bool,
) -> None:
    data = await _dataset(session)
    admin = data["viewers"][-1]
    orders_made = _made(monkeypatch, order_type, "_new_order")
    query = f"{{ orders(first: 5) {{ edges {{ node {{ {selection} }} }} }} }}"
    viewer = Viewer(admin.id, admin.is_admin, 0)

    answered = await _lean_data(services, query, viewer)
    assert answered["orders"]["edges"], "the dataset has orders"
    assert bool(orders_made) is made
    await same_as_strawberry(services, query, {}, data["viewers"])


@pytest.mark.parametrize(
    ("cls", "table"),
    [
        (post_type.Post, "posts"),
        (User, "users"),
        (order_type.Order, "orders"),
        (Tag, "tags"),
        (Product, "products"),
    ],
)
async def test_row_columns_name_what_from_row_reads(
    session: AsyncSession, cls: Any, table: str
) -> None:
    """A plan of rows reads `ROW_COLUMNS`; the objects it stands in for are `from_row`'s:
    each attribute named must hold its column's value."""
    await _dataset(session)
    rows = (await session.execute(text(f"SELECT * FROM {table}"))).all()
    assert rows
    for row in rows:
        made = cls.from_row(row)
        for attribute, column in cls.ROW_COLUMNS.items():
            assert getattr(made, attribute) == row._mapping[column], (attribute, column)
