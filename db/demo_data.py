"""Deterministic demo rows: pure generation, no database.

Everything comes from one `random.Random(random_seed)` and a fixed epoch, so the same
seed and scale give the same rows on every run. Ids are explicit; rows of a table are
in id order, and ids grow with `created_at` as they would in a live database.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_S = 730 * 24 * 3600  # created_at falls within the two years before EPOCH
START = EPOCH - timedelta(seconds=SPAN_S)
ADMIN_USERNAME = "admin"
DRAFT_SHARE = 0.10
ORDER_STATUSES = ("pending", "paid", "shipped", "cancelled")
ORDER_STATUS_WEIGHTS = (15, 25, 50, 10)

Row = tuple[object, ...]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "Ada Alan Alice Amara Ana Ben Carla Chen Dara Diego Elena Emil Eva Farah Felix Grace "
    "Hana Hugo Ines Ivan Jamal Jin Julia Kai Kenji Lara Leo Lina Luca Maya Mei Mila Nadia "
    "Nico Noor Omar Oskar Priya Rafael Rosa Sam Sara Tariq Tess Theo Uma Vera Wen Yara Zoe"
)
LAST_NAMES = _words(
    "Abe Adeyemi Berg Costa Dubois Eriksen Fischer Garcia Haddad Hansen Ito Jansen Kaur "
    "Kowalski Lopez Moreau Murphy Nakamura Novak Okafor Olsen Patel Petrov Quinn Rossi "
    "Schmidt Silva Sato Tanaka Torres Vargas Weber Wilson Yilmaz Zhang"
)
WORDS = _words(
    "the a of and to in for with on by from about into over after under data query index "
    "table cache server client schema type field graph edge node page cursor batch loader "
    "request response token order product price stock tag post user author draft release "
    "update design test review deploy latency throughput memory thread async event stream "
    "simple fast careful small large quiet clear open early later better every other "
    "build write read measure share learn plan ship fix keep move start finish explain"
)
TOPICS = _words(
    "python postgres graphql sql api design testing performance security devops cloud "
    "linux networking databases caching async typing tooling release-notes tutorials "
    "architecture frontend backend mobile web accessibility privacy analytics search "
    "payments logistics retail pricing inventory shipping support community events "
    "careers hiring culture remote productivity writing reading books podcasts video "
    "music art photography travel food coffee tea cooking gardening hiking cycling "
    "running climbing sailing chess games puzzles math physics chemistry biology history "
    "economics finance startups open-source standards hardware embedded robotics "
    "electronics energy climate weather space astronomy maps education kids health "
    "sleep fitness nutrition diy woodworking sewing knitting ceramics pets birds"
)
ADJECTIVES = _words(
    "compact sturdy classic deluxe everyday travel mini pro eco smart quiet bright "
    "soft rugged slim modular portable"
)
MATERIALS = _words("oak steel cotton bamboo leather linen glass copper wool ceramic canvas")
NOUNS = _words(
    "mug lamp chair desk bag bottle notebook pen kettle backpack blanket shelf clock "
    "speaker charger cable stand tray"
)
DOLLARS = (2, 4, 6, 9, 12, 15, 19, 24, 29, 34, 39, 49, 59, 79, 99, 129, 149, 199, 299, 499)
CENTS = (0, 49, 50, 95, 99)


@dataclass(frozen=True, slots=True)
class TableRows:
    """The rows of one table, each a tuple in `columns` order."""

    name: str
    columns: tuple[str, ...]
    rows: list[Row]


@dataclass(frozen=True, slots=True)
class Volumes:
    users: int
    posts: int
    tags: int
    products: int
    orders: int

    @classmethod
    def for_scale(cls, scale: int) -> Volumes:
        """Scale 1 is the size the contract's examples and the benchmarks assume."""
        if scale < 1:
            raise ValueError("scale must be 1 or more")
        return cls(
            users=2_000 * scale,
            posts=20_000 * scale,
            tags=200 * scale,
            products=1_000 * scale,
            orders=10_000 * scale,
        )


def generate(*, scale: int, random_seed: int, admin_hash: str, user_hash: str) -> list[TableRows]:
    """Every table's rows, parents before children (the order to load them in).

    User 1 is the admin `admin` with `admin_hash`; every other user has `user_hash`.
    """
    volumes = Volumes.for_scale(scale)
    rng = random.Random(random_seed)
    users, joined = _users(rng, volumes.users, admin_hash, user_hash)
    tags = _tags(volumes.tags)
    products, prices = _products(rng, volumes.products)
    posts, post_times = _posts(rng, volumes.posts, joined)
    post_tags = _post_tags(rng, post_times, volumes.tags)
    orders = _orders(rng, volumes.orders, joined)
    order_items = _order_items(rng, len(orders.rows), prices)
    return [users, tags, products, posts, post_tags, orders, order_items]


def _at(seconds: int) -> datetime:
    return START + timedelta(seconds=seconds)


def _skewed(rng: random.Random, ids: Sequence[int], exponent: float) -> list[float]:
    """Cumulative Zipf weights over `ids` in a shuffled order: a few ids get most draws."""
    ranks = list(range(1, len(ids) + 1))
    rng.shuffle(ranks)
    return list(itertools.accumulate(1 / rank**exponent for rank in ranks))


def _after(rng: random.Random, seconds: int) -> int:
    """A moment between `seconds` and EPOCH."""
    return seconds + rng.randrange(max(SPAN_S - seconds, 1))


def _users(
    rng: random.Random, count: int, admin_hash: str, user_hash: str
) -> tuple[TableRows, list[int]]:
    # Everyone joins in the first 90% of the span, so each has time to post and order.
    joined = [0, *sorted(rng.randrange(SPAN_S * 9 // 10) for _ in range(count - 1))]
    rows: list[Row] = [
        (1, ADMIN_USERNAME, "admin@example.com", "Demo Admin", admin_hash, True, True, _at(0), None)
    ]
    for user_id in range(2, count + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        username = f"{first.lower()}_{last.lower()}{user_id}"
        full_name = f"{first} {last}" if rng.random() < 0.9 else None
        active = rng.random() < 0.98
        created = joined[user_id - 1]
        updated = _at(_after(rng, created)) if rng.random() < 0.1 else None
        email = f"{username}@example.{rng.choice(('com', 'org', 'net'))}"
        rows.append(
            (user_id, username, email, full_name, user_hash, active, False, _at(created), updated)
        )
    columns = (
        "id",
        "username",
        "email",
        "full_name",
        "password_hash",
        "is_active",
        "is_admin",
        "created_at",
        "updated_at",
    )
    return TableRows("users", columns, rows), joined


def _tags(count: int) -> TableRows:
    rows: list[Row] = []
    for index in range(count):
        lap, position = divmod(index, len(TOPICS))
        topic = TOPICS[position]
        rows.append((index + 1, topic if lap == 0 else f"{topic}-{lap + 1}"))
    return TableRows("tags", ("id", "name"), rows)


def _products(rng: random.Random, count: int) -> tuple[TableRows, list[Decimal]]:
    rows: list[Row] = []
    prices: list[Decimal] = []
    for product_id in range(1, count + 1):
        name = f"{rng.choice(ADJECTIVES)} {rng.choice(MATERIALS)} {rng.choice(NOUNS)}".title()
        price = Decimal(rng.choice(DOLLARS) * 100 + rng.choice(CENTS)).scaleb(-2)
        stock = 0 if rng.random() < 0.05 else rng.randrange(1, 500)
        created = _at(rng.randrange(SPAN_S // 10))
        rows.append((product_id, f"SF-{product_id:06d}", name, price, stock, created))
        prices.append(price)
    columns = ("id", "sku", "name", "price", "stock", "created_at")
    return TableRows("products", columns, rows), prices


def _sentence(rng: random.Random, low: int, high: int) -> str:
    text = " ".join(rng.choices(WORDS, k=rng.randint(low, high)))
    return text[0].upper() + text[1:]


def _posts(rng: random.Random, count: int, joined: list[int]) -> tuple[TableRows, list[int]]:
    user_ids = range(1, len(joined) + 1)
    authors = rng.choices(user_ids, cum_weights=_skewed(rng, user_ids, 1.0), k=count)
    # Ids in order of creation, as a live database would have given them.
    written = sorted((_after(rng, joined[author - 1]), author) for author in authors)
    rows: list[Row] = []
    for post_id, (created, author) in enumerate(written, start=1):
        title = _sentence(rng, 3, 9)
        body = " ".join(_sentence(rng, 6, 14) + "." for _ in range(rng.randint(4, 8)))
        published = rng.random() >= DRAFT_SHARE
        published_at = (
            _at(min(created + rng.randrange(3 * 24 * 3600), SPAN_S)) if published else None
        )
        updated = _at(_after(rng, created)) if rng.random() < 0.2 else None
        rows.append((post_id, author, title, body, published, published_at, _at(created), updated))
    columns = (
        "id",
        "author_id",
        "title",
        "body",
        "published",
        "published_at",
        "created_at",
        "updated_at",
    )
    return TableRows("posts", columns, rows), [created for created, _ in written]


def _post_tags(rng: random.Random, post_times: list[int], tag_count: int) -> TableRows:
    tag_ids = range(1, tag_count + 1)
    weights = _skewed(rng, tag_ids, 0.8)
    rows: list[Row] = []
    for post_id, created in enumerate(post_times, start=1):
        wanted = rng.choice((1, 2, 3, 3, 4, 5))
        chosen: set[int] = set()
        while len(chosen) < wanted:
            chosen.update(rng.choices(tag_ids, cum_weights=weights, k=wanted - len(chosen)))
        rows.extend((post_id, tag_id, _at(created)) for tag_id in sorted(chosen))
    return TableRows("post_tags", ("post_id", "tag_id", "created_at"), rows)


def _orders(rng: random.Random, count: int, joined: list[int]) -> TableRows:
    user_ids = range(1, len(joined) + 1)
    customers = rng.choices(user_ids, cum_weights=_skewed(rng, user_ids, 0.5), k=count)
    placed = sorted((_after(rng, joined[user - 1]), user) for user in customers)
    statuses = rng.choices(ORDER_STATUSES, weights=ORDER_STATUS_WEIGHTS, k=count)
    rows: list[Row] = []
    for order_id, ((created, user), status) in enumerate(
        zip(placed, statuses, strict=True), start=1
    ):
        # 128 random bits: unique per customer in practice, and the check would catch it.
        key = f"{rng.getrandbits(128):032x}" if rng.random() < 0.7 else None
        rows.append((order_id, user, status, key, _at(created)))
    columns = ("id", "user_id", "status", "idempotency_key", "created_at")
    return TableRows("orders", columns, rows)


def _order_items(rng: random.Random, order_count: int, prices: list[Decimal]) -> TableRows:
    product_ids = range(1, len(prices) + 1)
    rows: list[Row] = []
    for order_id in range(1, order_count + 1):
        lines = rng.choice((1, 2, 3, 3, 4, 5))
        for product_id in sorted(rng.sample(product_ids, lines)):
            quantity = rng.choice((1, 1, 1, 2, 2, 3, 4, 5))
            rows.append((order_id, product_id, quantity, prices[product_id - 1]))
    columns = ("order_id", "product_id", "quantity", "unit_price")
    return TableRows("order_items", columns, rows)
