"""The seven representative queries: a Storefront document, the PostGraphile 5 document that
returns the same data, the floor's request, and a normaliser per response shape.

Every query but (d) runs as an anonymous viewer, who sees published posts only; PostGraphile
has no visibility rules, so its documents filter on `published: true` themselves. (d) runs as
an admin, who sees every order. The floor (bench/floor.py) answers the Storefront document by
its operation name, with hand-written SQL, in Storefront's exact JSON shape.

Each query but (d) also has a signed-in variant (`Query.signed_in_variant`, run.py
`--signed-in`): the same documents sent with the bearer token of the bench's reader, an
ordinary user with no posts and no orders, who so sees exactly what an anonymous viewer sees.
(d) is signed in already (as the admin); as the reader it would answer no orders at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

JSON = dict[str, Any]

TAGS_PG = "postTagsByPostId { nodes { tagByTagId { name } } }"
NEWEST_PG = "orderBy: [CREATED_AT_DESC, ROW_ID_DESC]"


@dataclass(frozen=True, slots=True)
class Fixtures:
    """What the documents name, picked from the seeded data (see database.pick_fixtures)."""

    username: str
    post_row_id: int
    post_global_id: str  # Storefront's opaque ID of the same post


@dataclass(frozen=True, slots=True)
class Query:
    key: str  # "a".."g"
    name: str  # the operation name; also what the floor dispatches on
    admin: bool  # sent with the admin's bearer token
    storefront: str
    postgraphile: str
    storefront_vars: Callable[[Fixtures], JSON]
    postgraphile_vars: Callable[[Fixtures], JSON]
    floor_vars: Callable[[Fixtures], JSON]
    # data -> a canonical value; relay: Storefront and floor, pg: PostGraphile
    canon_relay: Callable[[JSON], Any]
    canon_pg: Callable[[JSON], Any]
    signed_in: bool = False  # sent with the bench reader's bearer token (see the docstring)

    @property
    def id(self) -> str:
        """Unique among the queries and their signed-in variants: "a", "a+"."""
        return self.key + ("+" if self.signed_in else "")

    @property
    def label(self) -> str:
        return f"{self.key}-{self.name}" + ("+token" if self.signed_in else "")

    @property
    def viewer(self) -> str:
        """Whose token the requests carry: "admin", "reader" or "anonymous" (none)."""
        return "admin" if self.admin else "reader" if self.signed_in else "anonymous"

    def signed_in_variant(self) -> Query | None:
        """The same requests with the reader's token; None for (d), signed in already."""
        return None if self.admin or self.signed_in else replace(self, signed_in=True)

    def body(self, server: str, fixtures: Fixtures) -> JSON:
        if server == "postgraphile":
            return {
                "query": self.postgraphile,
                "operationName": self.name,
                "variables": self.postgraphile_vars(fixtures),
            }
        variables = self.floor_vars if server == "floor" else self.storefront_vars
        return {
            "query": self.storefront,
            "operationName": self.name,
            "variables": variables(fixtures),
        }

    def canonical(self, server: str, data: JSON) -> Any:
        return self.canon_pg(data) if server == "postgraphile" else self.canon_relay(data)


def _none(_: Fixtures) -> JSON:
    return {}


def _edges(connection: JSON) -> list[JSON]:
    return [edge["node"] for edge in connection["edges"]]


def _tag_names(tags: list[JSON]) -> list[str]:
    # Sorted here for every server: PostGraphile's junction rows come in key order.
    return sorted(tag["name"] for tag in tags)


def _pg_tag_names(post: JSON) -> list[str]:
    return sorted(row["tagByTagId"]["name"] for row in post["postTagsByPostId"]["nodes"])


def _money(value: Any) -> str:
    return format(Decimal(str(value)).normalize(), "f")


# (a) the feed: the 50 newest posts with author and tags ---------------------------------------

FEED = Query(
    key="a",
    name="Feed",
    admin=False,
    storefront="""query Feed {
  posts(first: 50) { edges { node { title author { username } tags { name } } } }
}""",
    postgraphile=f"""query Feed {{
  allPosts(first: 50, condition: {{published: true}}, {NEWEST_PG}) {{
    nodes {{ title userByAuthorId {{ username }} {TAGS_PG} }}
  }}
}}""",
    storefront_vars=_none,
    postgraphile_vars=_none,
    floor_vars=_none,
    canon_relay=lambda d: [
        (p["title"], p["author"]["username"], _tag_names(p["tags"])) for p in _edges(d["posts"])
    ],
    canon_pg=lambda d: [
        (p["title"], p["userByAuthorId"]["username"], _pg_tag_names(p))
        for p in d["allPosts"]["nodes"]
    ],
)

# (b) a user's page: their 20 newest posts with tags; (g) the same with their post count ---


def _username(f: Fixtures) -> JSON:
    return {"username": f.username}


def _user_page(key: str, name: str, count: bool) -> Query:
    """(b), or with `count` (g): the user's count of posts the viewer may see (published
    ones, for PostGraphile's document) first, then the page."""
    count_sf = "\n    postCount" if count else ""
    count_pg = (
        "\n      publishedPosts: postsByAuthorId(condition: {published: true}) { totalCount }"
        if count
        else ""
    )

    def relay(d: JSON) -> Any:
        user = d["user"]
        if user is None:
            return None
        page = [(p["title"], _tag_names(p["tags"])) for p in _edges(user["posts"])]
        return (user["postCount"], page) if count else page

    def pg(d: JSON) -> Any:
        users = d["allUsers"]["nodes"]
        if not users:
            return None
        user = users[0]
        page = [(p["title"], _pg_tag_names(p)) for p in user["postsByAuthorId"]["nodes"]]
        return (user["publishedPosts"]["totalCount"], page) if count else page

    return Query(
        key=key,
        name=name,
        admin=False,
        storefront=f"""query {name}($username: String!) {{
  user(username: $username) {{{count_sf}
    posts(first: 20) {{ edges {{ node {{ title tags {{ name }} }} }} }}
  }}
}}""",
        postgraphile=f"""query {name}($username: String!) {{
  allUsers(condition: {{username: $username}}, first: 1) {{
    nodes {{{count_pg}
      postsByAuthorId(first: 20, condition: {{published: true}}, {NEWEST_PG}) {{
        nodes {{ title {TAGS_PG} }}
      }}
    }}
  }}
}}""",
        storefront_vars=_username,
        postgraphile_vars=_username,
        floor_vars=_username,
        canon_relay=relay,
        canon_pg=pg,
    )


USER_PAGE = _user_page("b", "UserPage", count=False)

# (c) 20 users, each with their 5 newest posts and the posts' tags -----------------------------

USERS = Query(
    key="c",
    name="Users",
    admin=False,
    storefront="""query Users {
  users(first: 20) {
    edges { node { username posts(first: 5) { edges { node { title tags { name } } } } } }
  }
}""",
    postgraphile=f"""query Users {{
  allUsers(first: 20, orderBy: [USERNAME_ASC, ROW_ID_ASC]) {{
    nodes {{
      username
      postsByAuthorId(first: 5, condition: {{published: true}}, {NEWEST_PG}) {{
        nodes {{ title {TAGS_PG} }}
      }}
    }}
  }}
}}""",
    storefront_vars=_none,
    postgraphile_vars=_none,
    floor_vars=_none,
    canon_relay=lambda d: [
        (u["username"], [(p["title"], _tag_names(p["tags"])) for p in _edges(u["posts"])])
        for u in _edges(d["users"])
    ],
    canon_pg=lambda d: [
        (u["username"], [(p["title"], _pg_tag_names(p)) for p in u["postsByAuthorId"]["nodes"]])
        for u in d["allUsers"]["nodes"]
    ],
)

# (d) the 20 newest orders, as an admin -------------------------------------------------------


def _order(customer: str, items: list[tuple[str, int, Any]], count: int, total: Any) -> Any:
    lines = sorted((name, quantity, _money(price)) for name, quantity, price in items)
    return (customer, lines, count, _money(total))


ORDERS = Query(
    key="d",
    name="Orders",
    admin=True,
    storefront="""query Orders {
  orders(first: 20) {
    edges {
      node {
        customer { username }
        items { quantity unitPrice product { name } }
        itemCount
        total
      }
    }
  }
}""",
    postgraphile=f"""query Orders {{
  allOrders(first: 20, {NEWEST_PG}) {{
    nodes {{
      userByUserId {{ username }}
      orderItemsByOrderId {{ nodes {{ quantity unitPrice productByProductId {{ name }} }} }}
      itemCount
      total
    }}
  }}
}}""",
    storefront_vars=_none,
    postgraphile_vars=_none,
    floor_vars=_none,
    canon_relay=lambda d: [
        _order(
            o["customer"]["username"],
            [(i["product"]["name"], i["quantity"], i["unitPrice"]) for i in o["items"]],
            o["itemCount"],
            o["total"],
        )
        for o in _edges(d["orders"])
    ],
    canon_pg=lambda d: [
        _order(
            o["userByUserId"]["username"],
            [
                (i["productByProductId"]["name"], i["quantity"], i["unitPrice"])
                for i in o["orderItemsByOrderId"]["nodes"]
            ],
            o["itemCount"],
            o["total"],
        )
        for o in d["allOrders"]["nodes"]
    ],
)

# (e) 20 tags with their post counts and 3 newest posts ---------------------------------------

TAGS = Query(
    key="e",
    name="Tags",
    admin=False,
    storefront="""query Tags {
  tags(first: 20) {
    edges {
      node {
        name
        postCount
        posts(first: 3) { edges { node { title author { username } } } }
      }
    }
  }
}""",
    postgraphile="""query Tags {
  allTags(first: 20, orderBy: [NAME_ASC]) {
    nodes {
      name
      postCount
      newestPosts(first: 3) { nodes { title userByAuthorId { username } } }
    }
  }
}""",
    storefront_vars=_none,
    postgraphile_vars=_none,
    floor_vars=_none,
    canon_relay=lambda d: [
        (
            t["name"],
            t["postCount"],
            [(p["title"], p["author"]["username"]) for p in _edges(t["posts"])],
        )
        for t in _edges(d["tags"])
    ],
    canon_pg=lambda d: [
        (
            t["name"],
            t["postCount"],
            [(p["title"], p["userByAuthorId"]["username"]) for p in t["newestPosts"]["nodes"]],
        )
        for t in d["allTags"]["nodes"]
    ],
)

# (f) one post by ID --------------------------------------------------------------------------


def _post_relay(d: JSON) -> Any:
    p = d["post"]
    if p is None:
        return None
    return (p["title"], p["body"], p["author"]["username"], _tag_names(p["tags"]))


def _post_pg(d: JSON) -> Any:
    p = d["postByRowId"]
    if p is None or not p["published"]:
        return None
    return (p["title"], p["body"], p["userByAuthorId"]["username"], _pg_tag_names(p))


POST = Query(
    key="f",
    name="Post",
    admin=False,
    storefront="""query Post($id: ID!) {
  post(id: $id) { title body author { username } tags { name } }
}""",
    postgraphile=f"""query Post($rowId: BigInt!) {{
  postByRowId(rowId: $rowId) {{ title body published userByAuthorId {{ username }} {TAGS_PG} }}
}}""",
    storefront_vars=lambda f: {"id": f.post_global_id},
    postgraphile_vars=lambda f: {"rowId": str(f.post_row_id)},
    floor_vars=lambda f: {"rowId": f.post_row_id},
    canon_relay=_post_relay,
    canon_pg=_post_pg,
)

# (g) one user by username: postCount and the 20 newest posts with tags (see (b)) -----------

PROFILE = _user_page("g", "Profile", count=True)

ALL: list[Query] = [FEED, USER_PAGE, USERS, ORDERS, TAGS, POST, PROFILE]
BY_KEY = {q.key: q for q in ALL}


def select(keys: str, signed_in: bool = False) -> list[Query]:
    """The queries named by `keys` (letters, in that order), each followed by its signed-in
    variant when `signed_in` (none for (d), which runs as the admin anyway)."""
    chosen = []
    for key in keys:
        if key not in BY_KEY:
            raise ValueError(f"no query {key!r}; the queries are {''.join(BY_KEY)}")
        query = BY_KEY[key]
        variant = query.signed_in_variant() if signed_in else None
        chosen += [query] if variant is None else [query, variant]
    return chosen
