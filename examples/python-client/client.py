"""Storefront from Python with httpx: a Bearer token and automatic persisted queries.

    STOREFRONT_URL=http://127.0.0.1:8000/graphql STOREFRONT_LOGIN=admin \\
    STOREFRONT_PASSWORD=... uv run python examples/python-client/client.py

Runs the operations of the TypeScript example (examples/typescript-client): the feed,
the page of the feed's first author, `logIn`, `viewer` with the token it returned, and
`placeOrder` of one unit of a product in stock, twice with the same idempotency key (the
retry returns the first order). Prints the results as one JSON document.

Every request first names its document by the SHA-256 of its text only
(`extensions.persistedQuery.sha256Hash`, as Apollo's automatic persisted queries do).
A server that does not know the hash answers PERSISTED_QUERY_NOT_FOUND, and the client
sends the hash again with the text, which the server checks, stores and runs; from then
on, for every client of every instance, the hash is enough. `requests` in the output
shows which answers each operation got.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar, cast

import httpx

# -- The shapes of the answers this script reads ---------------------------------------


class Named(TypedDict):
    name: str


class Author(TypedDict):
    username: str


class FeedPost(TypedDict):
    id: str
    title: str
    publishedAt: str | None  # DateTime: ISO 8601 text
    author: Author
    tags: list[Named]


class FeedEdge(TypedDict):
    node: FeedPost


class PageInfo(TypedDict):
    hasNextPage: bool
    endCursor: str | None


class FeedPosts(TypedDict):
    totalCount: int
    pageInfo: PageInfo
    edges: list[FeedEdge]


class FeedData(TypedDict):
    posts: FeedPosts


class UserPost(TypedDict):
    id: str
    title: str
    createdAt: str
    tags: list[Named]


class UserPostEdge(TypedDict):
    node: UserPost


class UserPosts(TypedDict):
    totalCount: int
    edges: list[UserPostEdge]


class UserPage(TypedDict):
    id: str
    username: str
    fullName: str | None
    createdAt: str
    postCount: int
    posts: UserPosts


class UserPageData(TypedDict):
    user: UserPage | None


class UserError(TypedDict):
    field: list[str] | None
    code: str
    message: str


class SignedInUser(TypedDict):
    id: str
    username: str


class AuthPayload(TypedDict):
    token: str | None
    user: SignedInUser | None
    userErrors: list[UserError]


class LogInData(TypedDict):
    logIn: AuthPayload


class Viewer(TypedDict):
    id: str
    username: str
    email: str | None


class ViewerData(TypedDict):
    viewer: Viewer | None


class Product(TypedDict):
    id: str
    sku: str
    name: str
    price: str  # Decimal: exact, as text
    stock: int


class ProductEdge(TypedDict):
    node: Product


class Products(TypedDict):
    edges: list[ProductEdge]


class ProductsData(TypedDict):
    products: Products


class OrderedProduct(TypedDict):
    sku: str
    name: str


class OrderItem(TypedDict):
    quantity: int
    unitPrice: str
    subtotal: str
    product: OrderedProduct


class Order(TypedDict):
    id: str
    status: str
    createdAt: str
    itemCount: int
    total: str
    items: list[OrderItem]


class OrderPayload(TypedDict):
    order: Order | None
    userErrors: list[UserError]


class PlaceOrderData(TypedDict):
    placeOrder: OrderPayload


# -- Operations: a document and the type of its `data` ---------------------------------

Data = TypeVar("Data")


@dataclass(frozen=True)
class Operation(Generic[Data]):
    document: str
    data: type[Data]  # only for the type checker: execute() returns a `Data`

    @property
    def name(self) -> str:
        found = re.search(r"\b(?:query|mutation)\s+(\w+)", self.document)
        assert found, "every operation here is named"
        return found[1]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.document.encode()).hexdigest()


FEED = Operation(
    """query Feed($first: Int!, $after: String) {
  posts(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id title publishedAt author { username } tags { name } } }
  }
}""",
    FeedData,
)

USER_PAGE = Operation(
    """query UserPage($username: String!, $first: Int!) {
  user(username: $username) {
    id username fullName createdAt postCount
    posts(first: $first) {
      totalCount
      edges { node { id title createdAt tags { name } } }
    }
  }
}""",
    UserPageData,
)

LOG_IN = Operation(
    """mutation LogIn($input: LogInInput!) {
  logIn(input: $input) {
    token
    user { id username }
    userErrors { field code message }
  }
}""",
    LogInData,
)

VIEWER = Operation("query Viewer { viewer { id username email } }", ViewerData)

PRODUCTS_IN_STOCK = Operation(
    """query ProductsInStock($first: Int!) {
  products(first: $first, inStock: true) { edges { node { id sku name price stock } } }
}""",
    ProductsData,
)

PLACE_ORDER = Operation(
    """mutation PlaceOrder($input: PlaceOrderInput!) {
  placeOrder(input: $input) {
    order {
      id status createdAt itemCount total
      items { quantity unitPrice subtotal product { sku name } }
    }
    userErrors { field code message }
  }
}""",
    PlaceOrderData,
)


# -- The client -------------------------------------------------------------------------


class StorefrontError(Exception):
    """The request failed as a whole: top-level `errors`, or no JSON answer."""

    def __init__(self, message: str, codes: list[str]) -> None:
        super().__init__(message)
        self.codes = codes


class Client:
    def __init__(self, http: httpx.Client, url: str) -> None:
        self.http = http
        self.url = url
        # Per request: the operation and the answers it got, "ok" or an error code.
        self.requests: list[dict[str, Any]] = []

    def sign_in(self, token: str) -> None:
        """Every later request acts for the token's user."""
        self.http.headers["Authorization"] = f"Bearer {token}"

    def execute(
        self, operation: Operation[Data], variables: Mapping[str, Any] | None = None
    ) -> Data:
        body: dict[str, Any] = {
            "operationName": operation.name,
            "variables": dict(variables or {}),
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": operation.sha256}},
        }
        answers: list[str] = []
        self.requests.append({"operation": operation.name, "answers": answers})
        result = self._post(body)  # the hash alone
        if _codes(result) == ["PERSISTED_QUERY_NOT_FOUND"]:
            answers.append("PERSISTED_QUERY_NOT_FOUND")
            result = self._post({**body, "query": operation.document})  # hash and text
        codes = _codes(result)
        answers.append(",".join(codes) or "ok")
        if codes:
            messages = "; ".join(
                f"{e['extensions']['code']}: {e['message']}" for e in result["errors"]
            )
            raise StorefrontError(f"{operation.name}: {messages}", codes)
        return cast(Data, result["data"])

    def _post(self, body: Mapping[str, Any]) -> dict[str, Any]:
        response = self.http.post(self.url, json=body)
        if "json" not in response.headers.get("content-type", ""):
            raise StorefrontError(f"HTTP {response.status_code} without a JSON body", [])
        result: dict[str, Any] = response.json()
        return result


def _codes(result: Mapping[str, Any]) -> list[str]:
    return [
        str(error.get("extensions", {}).get("code", "UNKNOWN"))
        for error in result.get("errors") or ()
    ]


# -- The script -------------------------------------------------------------------------


def _setting(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"client.py: set {name}")
    return value


def run(client: Client, login: str, password: str) -> dict[str, Any]:
    feed = client.execute(FEED, {"first": 5})

    logged_in = client.execute(LOG_IN, {"input": {"login": login, "password": password}})["logIn"]
    token = logged_in["token"]
    if token is None:
        problems = "; ".join(f"{e['code']}: {e['message']}" for e in logged_in["userErrors"])
        raise StorefrontError(f"logIn refused: {problems}", [])
    client.sign_in(token)
    viewer = client.execute(VIEWER)["viewer"]
    if viewer is None:
        raise StorefrontError("the token signs nobody in", [])

    edges = feed["posts"]["edges"]
    username = edges[0]["node"]["author"]["username"] if edges else viewer["username"]
    user_page = client.execute(USER_PAGE, {"username": username, "first": 3})["user"]

    in_stock = client.execute(PRODUCTS_IN_STOCK, {"first": 1})["products"]["edges"]
    if not in_stock:
        raise StorefrontError("no product is in stock", [])
    product = in_stock[0]["node"]
    order_input = {
        "items": [{"productId": product["id"], "quantity": 1}],
        "idempotencyKey": f"python-client-{uuid.uuid4()}",
    }
    placed = client.execute(PLACE_ORDER, {"input": order_input})["placeOrder"]
    retried = client.execute(PLACE_ORDER, {"input": order_input})["placeOrder"]
    first, again = placed["order"], retried["order"]

    return {
        "url": client.url,
        "feed": feed["posts"],
        "userPage": user_page,
        # The token is a secret: say only that one came back.
        "logIn": {"token": "<received>", "user": logged_in["user"]},
        "viewer": viewer,
        "product": product,
        "placeOrder": placed,
        "retry": {
            "idempotencyKey": order_input["idempotencyKey"],
            "sameOrder": first is not None and again is not None and first["id"] == again["id"],
            "placeOrder": retried,
        },
        "requests": client.requests,
    }


def main() -> int:
    url = os.environ.get("STOREFRONT_URL") or "http://127.0.0.1:8000/graphql"
    login, password = _setting("STOREFRONT_LOGIN"), _setting("STOREFRONT_PASSWORD")
    with httpx.Client(timeout=10) as http:
        try:
            report = run(Client(http, url), login, password)
        except (StorefrontError, httpx.HTTPError) as error:
            print(f"client.py: {error}", file=sys.stderr)
            return 1
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
