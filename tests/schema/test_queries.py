"""Every Query field and nested field of the contract, against rows the test made."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import OrderStatus, posts, products
from tests.conftest import GraphQL
from tests.factories import (
    make_order,
    make_post,
    make_product,
    make_tag,
    make_token,
    make_user,
    minutes,
)


def data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


def nodes_of(connection: dict[str, Any], field: str) -> list[Any]:
    return [edge["node"][field] for edge in connection["edges"]]


async def admin_token(session: AsyncSession) -> str:
    admin = await make_user(session, username="root", is_admin=True)
    return await make_token(session, admin.id)


# --- Identity: node / nodes -------------------------------------------------------


async def test_node_returns_each_type_by_the_id_its_object_carries(
    session: AsyncSession, gql: GraphQL
) -> None:
    ann = await make_user(session, username="ann")
    await make_post(session, ann.id, title="Hello", tags=["intro"])
    await make_product(session, name="Mug", sku="MUG-1")
    mug = await make_product(session, name="Cup", sku="CUP-1")
    await make_order(session, ann.id, [(mug, 2)])
    token = await make_token(session, ann.id)

    listed = data(
        await gql(
            """{
              user(username: "ann") { id }
              posts { edges { node { id } } }
              tag(name: "intro") { id }
              product(sku: "MUG-1") { id }
              orders { edges { node { id } } }
            }""",
            token=token,
        )
    )
    ids = {
        "User": listed["user"]["id"],
        "Post": listed["posts"]["edges"][0]["node"]["id"],
        "Tag": listed["tag"]["id"],
        "Product": listed["product"]["id"],
        "Order": listed["orders"]["edges"][0]["node"]["id"],
    }
    assert len(set(ids.values())) == 5

    query = """query($id: ID!) { node(id: $id) {
        __typename id
        ... on User { username }
        ... on Post { title }
        ... on Tag { name }
        ... on Product { sku }
        ... on Order { itemCount }
    } }"""
    expected = {
        "User": ("username", "ann"),
        "Post": ("title", "Hello"),
        "Tag": ("name", "intro"),
        "Product": ("sku", "MUG-1"),
        "Order": ("itemCount", 2),
    }
    for type_name, global_id in ids.items():
        node = data(await gql(query, {"id": global_id}, token=token))["node"]
        field, value = expected[type_name]
        assert node["__typename"] == type_name
        assert node["id"] == global_id
        assert node[field] == value


async def test_ids_are_distinct_across_types_with_the_same_row_number(
    session: AsyncSession, gql: GraphQL
) -> None:
    # The first user, post, tag and product all have row id 1.
    ann = await make_user(session, username="ann")
    await make_post(session, ann.id, tags=["x"])
    await make_product(session, sku="P-1")
    body = data(
        await gql(
            """{ user(username: "ann") { id } tag(name: "x") { id } product(sku: "P-1") { id }
                 posts { edges { node { id } } } }"""
        )
    )
    ids = [
        body["user"]["id"],
        body["tag"]["id"],
        body["product"]["id"],
        body["posts"]["edges"][0]["node"]["id"],
    ]
    assert len(set(ids)) == 4


async def test_nodes_keeps_the_order_asked_for_and_gives_null_for_misses(
    session: AsyncSession, gql: GraphQL
) -> None:
    ann = await make_user(session, username="ann")
    await make_post(session, ann.id, title="First")
    await make_post(session, ann.id, title="Second")
    await make_tag(session, "news")
    listed = data(
        await gql(
            """{ user(username: "ann") { id } tag(name: "news") { id }
                 posts(orderBy: OLDEST) { edges { node { id } } } }"""
        )
    )
    first, second = (edge["node"]["id"] for edge in listed["posts"]["edges"])
    user_id, tag_id = listed["user"]["id"], listed["tag"]["id"]

    body = data(
        await gql(
            """query($ids: [ID!]!) { nodes(ids: $ids) {
                __typename id ... on Post { title } ... on User { username } ... on Tag { name }
            } }""",
            {"ids": [second, "no-such-id", user_id, first, tag_id, second]},
        )
    )
    assert body["nodes"] == [
        {"__typename": "Post", "id": second, "title": "Second"},
        None,
        {"__typename": "User", "id": user_id, "username": "ann"},
        {"__typename": "Post", "id": first, "title": "First"},
        {"__typename": "Tag", "id": tag_id, "name": "news"},
        {"__typename": "Post", "id": second, "title": "Second"},
    ]


async def test_node_of_a_deleted_row_is_null(session: AsyncSession, gql: GraphQL) -> None:
    ann = await make_user(session, username="ann")
    post = await make_post(session, ann.id)
    post_id = data(await gql("{ posts { edges { node { id } } } }"))["posts"]["edges"][0]["node"][
        "id"
    ]
    await session.execute(posts.delete().where(posts.c.id == post.id))
    await session.commit()
    body = data(
        await gql(
            """query($id: ID!) {
                node(id: $id) { id } post(id: $id) { id } nodes(ids: [$id]) { id } }""",
            {"id": post_id},
        )
    )
    assert body == {"node": None, "post": None, "nodes": [None]}


# --- viewer, user, users ----------------------------------------------------------


async def test_viewer_is_the_signed_in_user_or_null(session: AsyncSession, gql: GraphQL) -> None:
    ann = await make_user(session, username="ann", full_name="Ann Archer")
    await make_user(session, username="ben")
    token = await make_token(session, ann.id)

    signed_in = data(await gql("{ viewer { username fullName email } }", token=token))
    assert signed_in["viewer"] == {
        "username": "ann",
        "fullName": "Ann Archer",
        "email": "ann@example.com",
    }
    assert data(await gql("{ viewer { username } }")) == {"viewer": None}


async def test_user_by_username_matches_case_insensitively(
    session: AsyncSession, gql: GraphQL
) -> None:
    await make_user(session, username="AnnA", full_name="Ann")
    await make_user(session, username="ben")
    query = "query($u: String!) { user(username: $u) { username fullName } }"
    for asked in ("AnnA", "anna", "ANNA"):
        assert data(await gql(query, {"u": asked}))["user"] == {
            "username": "AnnA",
            "fullName": "Ann",
        }
    assert data(await gql(query, {"u": "ann"}))["user"] is None
    assert data(await gql(query, {"u": "nobody"}))["user"] is None


async def test_users_are_ordered_by_username_and_counted(
    session: AsyncSession, gql: GraphQL
) -> None:
    for name in ("dora", "ann", "carl", "ben"):
        await make_user(session, username=name)
    body = data(await gql("{ users { totalCount edges { node { username } } } }"))
    assert nodes_of(body["users"], "username") == ["ann", "ben", "carl", "dora"]
    assert body["users"]["totalCount"] == 4


async def test_users_search_username_or_full_name_case_insensitively(
    session: AsyncSession, gql: GraphQL
) -> None:
    await make_user(session, username="annie", full_name="Ann Smith")
    await make_user(session, username="bob", full_name="Robert SMITHSON")
    await make_user(session, username="blacksmith", full_name=None)
    await make_user(session, username="carl", full_name="Carl Jones")
    query = """query($s: String) { users(search: $s) {
        totalCount edges { node { username } } } }"""

    smith = data(await gql(query, {"s": "sMiTh"}))["users"]
    assert nodes_of(smith, "username") == ["annie", "blacksmith", "bob"]
    assert smith["totalCount"] == 3

    by_name = data(await gql(query, {"s": "ann s"}))["users"]
    assert nodes_of(by_name, "username") == ["annie"]
    assert by_name["totalCount"] == 1

    nothing = data(await gql(query, {"s": "zzz"}))["users"]
    assert nothing == {"totalCount": 0, "edges": []}


async def test_users_search_takes_like_wildcards_literally(
    session: AsyncSession, gql: GraphQL
) -> None:
    await make_user(session, username="a_b", full_name="100% Cotton")
    await make_user(session, username="axb", full_name="1000 Cotton")
    await make_user(session, username="back", full_name="C:\\path")
    query = """query($s: String) { users(search: $s) {
        totalCount edges { node { username } } } }"""

    underscore = data(await gql(query, {"s": "a_b"}))["users"]
    assert nodes_of(underscore, "username") == ["a_b"]
    assert underscore["totalCount"] == 1

    percent = data(await gql(query, {"s": "0%"}))["users"]
    assert nodes_of(percent, "username") == ["a_b"]
    assert percent["totalCount"] == 1

    assert nodes_of(data(await gql(query, {"s": "%"}))["users"], "username") == ["a_b"]
    assert nodes_of(data(await gql(query, {"s": ":\\p"}))["users"], "username") == ["back"]


# --- posts --------------------------------------------------------------------------


async def test_post_by_id_has_every_field(session: AsyncSession, gql: GraphQL) -> None:
    ann = await make_user(session, username="ann", full_name="Ann Archer")
    created = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    row = await make_post(
        session,
        ann.id,
        title="Keysets",
        body="Why offsets hurt.",
        created_at=created,
        tags=["sql", "api", "paging"],
    )
    await session.execute(
        update(posts)
        .where(posts.c.id == row.id)
        .values(updated_at=datetime(2026, 3, 5, 0, 0, tzinfo=UTC))
    )
    await session.commit()
    post_id = data(await gql("{ posts { edges { node { id } } } }"))["posts"]["edges"][0]["node"][
        "id"
    ]

    post = data(
        await gql(
            """query($id: ID!) { post(id: $id) {
                id title body published publishedAt createdAt updatedAt
                author { username fullName }
                tags { name }
            } }""",
            {"id": post_id},
        )
    )["post"]
    assert post == {
        "id": post_id,
        "title": "Keysets",
        "body": "Why offsets hurt.",
        "published": True,
        "publishedAt": "2026-03-04T05:06:07+00:00",
        "createdAt": "2026-03-04T05:06:07+00:00",
        "updatedAt": "2026-03-05T00:00:00+00:00",
        "author": {"username": "ann", "fullName": "Ann Archer"},
        "tags": [{"name": "api"}, {"name": "paging"}, {"name": "sql"}],
    }


async def test_a_never_edited_draft_has_no_published_or_updated_time(
    session: AsyncSession, gql: GraphQL
) -> None:
    ann = await make_user(session, username="ann")
    await make_post(session, ann.id, published=False)
    token = await make_token(session, ann.id)
    post = data(
        await gql(
            "{ posts { edges { node { published publishedAt updatedAt tags { name } } } } }",
            token=token,
        )
    )["posts"]["edges"][0]["node"]
    assert post == {"published": False, "publishedAt": None, "updatedAt": None, "tags": []}


async def test_posts_orderings_break_ties_by_id(session: AsyncSession, gql: GraphQL) -> None:
    ann = await make_user(session, username="ann")
    # (body as identity, title, minute): a and b share a time; b and d share a title.
    for body, title, minute in [
        ("a", "pear", 5),
        ("b", "apple", 5),
        ("c", "fig", 9),
        ("d", "apple", 1),
        ("e", "kiwi", 5),
    ]:
        await make_post(session, ann.id, body=body, title=title, created_at=minutes(minute))
    query = """query($o: PostOrder!) { posts(orderBy: $o) {
        totalCount edges { node { body } } } }"""

    async def order(name: str) -> list[str]:
        result = data(await gql(query, {"o": name}))["posts"]
        assert result["totalCount"] == 5
        return nodes_of(result, "body")

    assert await order("NEWEST") == ["c", "e", "b", "a", "d"]
    assert await order("OLDEST") == ["d", "a", "b", "e", "c"]
    assert await order("TITLE") == ["b", "d", "c", "e", "a"]
    # NEWEST is the default.
    default = data(await gql("{ posts { edges { node { body } } } }"))["posts"]
    assert nodes_of(default, "body") == ["c", "e", "b", "a", "d"]


POSTS_FILTERED = """query($f: PostFilter) { posts(filter: $f, orderBy: OLDEST) {
    totalCount edges { node { title } } } }"""


async def filtered(gql: GraphQL, where: dict[str, Any], token: str | None = None) -> list[str]:
    """Titles of the posts the filter selects; also checks totalCount agrees."""
    result = data(await gql(POSTS_FILTERED, {"f": where}, token=token))["posts"]
    titles = nodes_of(result, "title")
    assert result["totalCount"] == len(titles), (where, result)
    return titles


async def test_posts_filter_by_published_author_and_tag(
    session: AsyncSession, gql: GraphQL
) -> None:
    ann = await make_user(session, username="ann")
    ben = await make_user(session, username="Ben")
    await make_post(session, ann.id, title="ann-pub", tags=["go", "db"], created_at=minutes(1))
    await make_post(session, ann.id, title="ann-draft", published=False, created_at=minutes(2))
    await make_post(session, ben.id, title="ben-pub", tags=["db"], created_at=minutes(3))
    await make_post(session, ben.id, title="ben-draft", tags=["go"], published=False,
                    created_at=minutes(4))  # fmt: skip
    token = await admin_token(session)

    assert await filtered(gql, {}, token) == ["ann-pub", "ann-draft", "ben-pub", "ben-draft"]
    assert await filtered(gql, {"published": True}, token) == ["ann-pub", "ben-pub"]
    assert await filtered(gql, {"published": False}, token) == ["ann-draft", "ben-draft"]
    assert await filtered(gql, {"authorUsername": "ann"}, token) == ["ann-pub", "ann-draft"]
    assert await filtered(gql, {"authorUsername": "Ben"}, token) == ["ben-pub", "ben-draft"]
    assert await filtered(gql, {"authorUsername": "nobody"}, token) == []
    assert await filtered(gql, {"tag": "db"}, token) == ["ann-pub", "ben-pub"]
    assert await filtered(gql, {"tag": "go"}, token) == ["ann-pub", "ben-draft"]
    assert await filtered(gql, {"tag": "rust"}, token) == []
    assert await filtered(
        gql, {"tag": "go", "published": True, "authorUsername": "ann"}, token
    ) == ["ann-pub"]
    assert await filtered(gql, {"tag": "go", "authorUsername": "Ben"}, token) == ["ben-draft"]


async def test_posts_search_title_or_body_case_insensitively(
    session: AsyncSession, gql: GraphQL
) -> None:
    ann = await make_user(session, username="ann")
    await make_post(session, ann.id, title="Postgres tips", body="vacuum", created_at=minutes(1))
    await make_post(session, ann.id, title="Misc", body="Why POSTGRES?", created_at=minutes(2))
    await make_post(session, ann.id, title="Other", body="nothing here", created_at=minutes(3))
    await make_post(session, ann.id, title="50% off", body="sale", created_at=minutes(4))
    await make_post(session, ann.id, title="500 off", body="sale", created_at=minutes(5))

    assert await filtered(gql, {"search": "postgres"}) == ["Postgres tips", "Misc"]
    assert await filtered(gql, {"search": "VACUUM"}) == ["Postgres tips"]
    assert await filtered(gql, {"search": "0%"}) == ["50% off"]
    assert await filtered(gql, {"search": "5_0"}) == []
    assert await filtered(gql, {"search": "zzz"}) == []


async def test_posts_created_after_and_before_are_strict_bounds(
    session: AsyncSession, gql: GraphQL
) -> None:
    ann = await make_user(session, username="ann")
    for n in range(1, 6):
        await make_post(session, ann.id, title=f"m{n}", created_at=minutes(n))
    at = {n: minutes(n).isoformat() for n in range(1, 6)}

    assert await filtered(gql, {"createdAfter": at[2]}) == ["m3", "m4", "m5"]
    assert await filtered(gql, {"createdBefore": at[4]}) == ["m1", "m2", "m3"]
    assert await filtered(gql, {"createdAfter": at[1], "createdBefore": at[5]}) == [
        "m2",
        "m3",
        "m4",
    ]
    assert await filtered(gql, {"createdAfter": at[3], "createdBefore": at[4]}) == []
    # The same instant written with another offset.
    assert await filtered(gql, {"createdAfter": "2026-01-01T01:02:00+01:00"}) == ["m3", "m4", "m5"]


# --- tags ---------------------------------------------------------------------------


async def test_tag_by_name_and_tags_by_name_with_search(
    session: AsyncSession, gql: GraphQL
) -> None:
    for name in ("python", "rust", "db", "pytest"):
        await make_tag(session, name)
    assert data(await gql('{ tag(name: "rust") { name } }')) == {"tag": {"name": "rust"}}
    assert data(await gql('{ tag(name: "go") { name } }')) == {"tag": None}

    everything = data(await gql("{ tags { totalCount edges { node { name } } } }"))["tags"]
    assert nodes_of(everything, "name") == ["db", "pytest", "python", "rust"]
    assert everything["totalCount"] == 4

    searched = data(await gql('{ tags(search: "PY") { totalCount edges { node { name } } } }'))[
        "tags"
    ]
    assert nodes_of(searched, "name") == ["pytest", "python"]
    assert searched["totalCount"] == 2


async def test_tag_post_count_and_posts_in_each_order(session: AsyncSession, gql: GraphQL) -> None:
    ann = await make_user(session, username="ann")
    await make_post(session, ann.id, title="b", tags=["sql"], created_at=minutes(1))
    await make_post(session, ann.id, title="c", tags=["sql", "go"], created_at=minutes(3))
    await make_post(session, ann.id, title="a", tags=["sql"], created_at=minutes(2))
    await make_post(session, ann.id, title="untagged", created_at=minutes(4))
    query = """query($o: PostOrder!) { tag(name: "sql") {
        postCount posts(orderBy: $o) { totalCount edges { node { title } } } } }"""

    for order, expected in [("NEWEST", "cab"), ("OLDEST", "bac"), ("TITLE", "abc")]:
        tag = data(await gql(query, {"o": order}))["tag"]
        assert tag["postCount"] == 3
        assert tag["posts"]["totalCount"] == 3
        assert "".join(nodes_of(tag["posts"], "title")) == expected

    go = data(await gql('{ tag(name: "go") { postCount posts { edges { node { title } } } } }'))
    assert go["tag"]["postCount"] == 1
    assert nodes_of(go["tag"]["posts"], "title") == ["c"]


# --- products -----------------------------------------------------------------------


async def test_product_by_sku_with_exact_price_stock_and_units_sold(
    session: AsyncSession, gql: GraphQL
) -> None:
    ann = await make_user(session, username="ann")
    shirt = await make_product(session, name="Shirt", sku="SH-1", price="19.99", stock=7)
    hat = await make_product(session, name="Hat", sku="HAT-1", price="5.00", stock=0)
    await make_order(session, ann.id, [(shirt, 2), (hat, 1)])
    await make_order(session, ann.id, [(shirt, 3)], status=OrderStatus.PAID)
    await make_order(session, ann.id, [(shirt, 4)], status=OrderStatus.SHIPPED)
    await make_order(session, ann.id, [(shirt, 100)], status=OrderStatus.CANCELLED)

    query = "query($s: String!) { product(sku: $s) { sku name price stock unitsSold } }"
    assert data(await gql(query, {"s": "SH-1"}))["product"] == {
        "sku": "SH-1",
        "name": "Shirt",
        "price": "19.99",
        "stock": 7,
        "unitsSold": 9,
    }
    assert data(await gql(query, {"s": "HAT-1"}))["product"] == {
        "sku": "HAT-1",
        "name": "Hat",
        "price": "5.00",
        "stock": 0,
        "unitsSold": 1,
    }
    assert data(await gql(query, {"s": "NOPE"}))["product"] is None
    await make_product(session, name="Unsold", sku="UN-1", price="0.10")
    assert data(await gql(query, {"s": "UN-1"}))["product"]["unitsSold"] == 0
    assert data(await gql(query, {"s": "UN-1"}))["product"]["price"] == "0.10"


async def test_products_by_name_then_id_search_and_stock_filter(
    session: AsyncSession, gql: GraphQL
) -> None:
    await make_product(session, name="Mug", sku="KIT-2", stock=0)
    await make_product(session, name="Apron", sku="KIT-1", stock=3)
    await make_product(session, name="Mug", sku="MUG-9", stock=5)
    await make_product(session, name="Zester", sku="Z-1", stock=1)
    query = """query($s: String, $in: Boolean) { products(search: $s, inStock: $in) {
        totalCount edges { node { sku } } } }"""

    async def skus(search: str | None = None, in_stock: bool | None = None) -> list[str]:
        result = data(await gql(query, {"s": search, "in": in_stock}))["products"]
        found = nodes_of(result, "sku")
        assert result["totalCount"] == len(found)
        return found

    assert await skus() == ["KIT-1", "KIT-2", "MUG-9", "Z-1"]
    assert await skus(search="mug") == ["KIT-2", "MUG-9"]
    assert await skus(search="kit") == ["KIT-1", "KIT-2"]
    assert await skus(search="ZEST") == ["Z-1"]
    assert await skus(in_stock=True) == ["KIT-1", "MUG-9", "Z-1"]
    assert await skus(in_stock=False) == ["KIT-2"]
    assert await skus(search="kit", in_stock=True) == ["KIT-1"]
    assert await skus(search="nothing") == []


# --- orders -------------------------------------------------------------------------


async def test_order_fields_items_and_exact_totals(session: AsyncSession, gql: GraphQL) -> None:
    ann = await make_user(session, username="ann", full_name="Ann Archer")
    dime = await make_product(session, name="Washer", sku="W-1", price="0.10")
    bolt = await make_product(session, name="Bolt", sku="B-1", price="19.99")
    cog = await make_product(session, name="Cog", sku="C-1", price="0.01")
    placed = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
    await make_order(
        session, ann.id, [(dime, 3), (bolt, 2), (cog, 1)], status=OrderStatus.PAID,
        created_at=placed,
    )  # fmt: skip
    # Prices change after the order: the order keeps what was paid.
    await session.execute(update(products).values(price=Decimal("99.00")))
    await session.commit()
    token = await make_token(session, ann.id)

    order = data(
        await gql(
            """{ orders { totalCount edges { node {
                id status createdAt itemCount total
                customer { username fullName }
                items { quantity unitPrice subtotal product { sku name price } }
            } } } }""",
            token=token,
        )
    )["orders"]
    assert order["totalCount"] == 1
    node = order["edges"][0]["node"]
    assert node["status"] == "PAID"
    assert node["createdAt"] == "2026-02-03T04:05:06+00:00"
    assert node["customer"] == {"username": "ann", "fullName": "Ann Archer"}
    assert node["itemCount"] == 6
    assert node["total"] == "40.29"  # 0.30 + 39.98 + 0.01
    assert node["items"] == [
        {
            "quantity": 2,
            "unitPrice": "19.99",
            "subtotal": "39.98",
            "product": {"sku": "B-1", "name": "Bolt", "price": "99.00"},
        },
        {
            "quantity": 1,
            "unitPrice": "0.01",
            "subtotal": "0.01",
            "product": {"sku": "C-1", "name": "Cog", "price": "99.00"},
        },
        {
            "quantity": 3,
            "unitPrice": "0.10",
            "subtotal": "0.30",
            "product": {"sku": "W-1", "name": "Washer", "price": "99.00"},
        },
    ]


async def test_three_dimes_total_exactly_thirty_cents(session: AsyncSession, gql: GraphQL) -> None:
    ann = await make_user(session, username="ann")
    dime = await make_product(session, name="Dime", price="0.10")
    await make_order(session, ann.id, [(dime, 3)])
    token = await make_token(session, ann.id)
    node = data(
        await gql(
            "{ orders { edges { node { itemCount total items { subtotal } } } } }", token=token
        )
    )["orders"]["edges"][0]["node"]
    assert node == {"itemCount": 3, "total": "0.30", "items": [{"subtotal": "0.30"}]}


async def test_orders_newest_first_filtered_by_status(session: AsyncSession, gql: GraphQL) -> None:
    ann = await make_user(session, username="ann")
    ben = await make_user(session, username="ben")
    thing = await make_product(session, name="Thing")
    placed = [
        (ann, 1, OrderStatus.PENDING, 1),
        (ben, 2, OrderStatus.PAID, 4),
        (ann, 3, OrderStatus.CANCELLED, 3),
        (ben, 4, OrderStatus.PENDING, 2),
        (ann, 5, OrderStatus.PENDING, 3),  # ties with the third: id breaks it
    ]
    for user, quantity, status, minute in placed:
        await make_order(session, user.id, [(thing, quantity)], status=status,
                         created_at=minutes(minute))  # fmt: skip
    token = await admin_token(session)
    query = """query($s: OrderStatus) { orders(status: $s) {
        totalCount edges { node { itemCount status customer { username } } } } }"""

    async def quantities(status: str | None) -> list[int]:
        result = data(await gql(query, {"s": status}, token=token))["orders"]
        found = nodes_of(result, "itemCount")
        assert result["totalCount"] == len(found)
        if status is not None:
            assert {edge["node"]["status"] for edge in result["edges"]} <= {status}
        return found

    assert await quantities(None) == [2, 5, 3, 4, 1]
    assert await quantities("PENDING") == [5, 4, 1]
    assert await quantities("PAID") == [2]
    assert await quantities("CANCELLED") == [3]
    assert await quantities("SHIPPED") == []


# --- User fields -------------------------------------------------------------------


async def test_user_fields_and_post_counts(session: AsyncSession, gql: GraphQL) -> None:
    ann = await make_user(
        session,
        username="ann",
        full_name="Ann Archer",
        created_at=datetime(2025, 12, 31, 23, 59, 58, tzinfo=UTC),
    )
    await make_user(session, username="nobody")
    for n in range(3):
        await make_post(session, ann.id, created_at=minutes(n))
    await make_post(session, ann.id, published=False)
    token = await make_token(session, ann.id)

    user = data(
        await gql(
            """{ user(username: "ann") { username fullName createdAt
                all: postCount published: postCount(published: true)
                drafts: postCount(published: false) } }""",
            token=token,
        )
    )["user"]
    assert user == {
        "username": "ann",
        "fullName": "Ann Archer",
        "createdAt": "2025-12-31T23:59:58+00:00",
        "all": 4,
        "published": 3,
        "drafts": 1,
    }
    nobody = data(await gql('{ user(username: "nobody") { fullName postCount } }'))["user"]
    assert nobody == {"fullName": None, "postCount": 0}


async def test_user_posts_with_filter_and_order(session: AsyncSession, gql: GraphQL) -> None:
    ann = await make_user(session, username="ann")
    ben = await make_user(session, username="ben")
    await make_post(session, ann.id, title="b", tags=["x"], created_at=minutes(1))
    await make_post(session, ann.id, title="c", created_at=minutes(2))
    await make_post(session, ann.id, title="a", tags=["x"], created_at=minutes(3))
    await make_post(session, ann.id, title="d", tags=["x"], published=False, created_at=minutes(4))
    await make_post(session, ben.id, title="ben's", tags=["x"], created_at=minutes(5))
    token = await make_token(session, ann.id)
    query = """query($f: PostFilter, $o: PostOrder!) { user(username: "ann") {
        posts(filter: $f, orderBy: $o) { totalCount edges { node { title } } } } }"""

    async def titles(where: dict[str, Any] | None, order: str) -> str:
        result = data(await gql(query, {"f": where, "o": order}, token=token))["user"]["posts"]
        found = nodes_of(result, "title")
        assert result["totalCount"] == len(found)
        return "".join(found)

    assert await titles(None, "NEWEST") == "dacb"
    assert await titles(None, "OLDEST") == "bcad"
    assert await titles(None, "TITLE") == "abcd"
    assert await titles({"tag": "x"}, "TITLE") == "abd"
    assert await titles({"tag": "x", "published": True}, "NEWEST") == "ab"
    assert await titles({"search": "C"}, "NEWEST") == "c"
    assert await titles({"createdAfter": minutes(1).isoformat()}, "OLDEST") == "cad"
    # The filter narrows the user's own posts; it never widens them to another author's.
    assert await titles({"authorUsername": "ben"}, "NEWEST") == ""


async def test_user_orders_newest_first_with_status(session: AsyncSession, gql: GraphQL) -> None:
    ann = await make_user(session, username="ann")
    ben = await make_user(session, username="ben")
    thing = await make_product(session, name="Thing")
    await make_order(session, ann.id, [(thing, 1)], created_at=minutes(1))
    await make_order(session, ann.id, [(thing, 2)], status=OrderStatus.SHIPPED,
                     created_at=minutes(2))  # fmt: skip
    await make_order(session, ann.id, [(thing, 3)], created_at=minutes(3))
    await make_order(session, ben.id, [(thing, 4)], created_at=minutes(4))
    token = await make_token(session, ann.id)
    query = """query($s: OrderStatus) { viewer { orders(status: $s) {
        totalCount edges { node { itemCount customer { username } } } } } }"""

    every = data(await gql(query, {"s": None}, token=token))["viewer"]["orders"]
    assert nodes_of(every, "itemCount") == [3, 2, 1]
    assert every["totalCount"] == 3
    assert {edge["node"]["customer"]["username"] for edge in every["edges"]} == {"ann"}

    pending = data(await gql(query, {"s": "PENDING"}, token=token))["viewer"]["orders"]
    assert nodes_of(pending, "itemCount") == [3, 1]
    assert pending["totalCount"] == 2


async def test_total_count_ignores_first_and_after(session: AsyncSession, gql: GraphQL) -> None:
    ann = await make_user(session, username="ann")
    for n in range(5):
        await make_post(session, ann.id, title=f"p{n}", tags=["t"], created_at=minutes(n))
    for n in range(4):
        await make_product(session, name=f"thing {n}", stock=n)
        await make_tag(session, f"tag{n}")
    first = data(
        await gql(
            """{ posts(first: 2) { totalCount pageInfo { endCursor } }
                 products(first: 1, inStock: true) { totalCount }
                 tags(first: 1, search: "tag") { totalCount }
                 users(first: 0) { totalCount }
                 tag(name: "t") { posts(first: 1) { totalCount } }
                 user(username: "ann") {
                   posts(first: 1, filter: {search: "p"}) { totalCount } } }"""
        )
    )
    assert first["posts"]["totalCount"] == 5
    assert first["products"]["totalCount"] == 3
    assert first["tags"]["totalCount"] == 4
    assert first["users"]["totalCount"] == 1
    assert first["tag"]["posts"]["totalCount"] == 5
    assert first["user"]["posts"]["totalCount"] == 5
    after = data(
        await gql(
            "query($a: String) { posts(first: 2, after: $a) { totalCount } }",
            {"a": first["posts"]["pageInfo"]["endCursor"]},
        )
    )
    assert after["posts"]["totalCount"] == 5
