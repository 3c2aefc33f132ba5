"""What every resolver gets: the typed per-request Context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeAlias

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.accounts import TOKEN_TTL_HOURS, Viewer
from db.read_pool import Lender, ReadPool, Share
from db.replicas import Replicas
from db.sign_ins import SignIns
from db.throttle import LoginLimits
from schema.client_address import TrustedProxies
from schema.events import Events
from schema.loaders import Loaders


@dataclass(frozen=True, slots=True)
class Services:
    """Process-wide collaborators, built once in the app's lifespan."""

    read_pool: ReadPool
    sessionmaker: async_sessionmaker[AsyncSession]
    token_ttl_hours: int = TOKEN_TTL_HOURS
    login_limits: LoginLimits = field(default_factory=LoginLimits)
    trusted_proxies: TrustedProxies = field(default_factory=TrustedProxies)
    # This process's subscribers, fed by its Listener (app.py's lifespan).
    events: Events = field(default_factory=Events)
    # DATABASE_REPLICA_URLS' replicas; `read_pool` is the primary's either way.
    replicas: Replicas | None = None
    # Verified tokens, trusted while the Listener listens (app.py's lifespan); the
    # default caches nothing.
    sign_ins: SignIns = field(default_factory=SignIns)


@dataclass(slots=True)
class Context:
    services: Services
    viewer: Viewer | None
    request_id: str
    token: str | None = None
    auth_error: str | None = None
    # Finds the client's address (schema/client_address.py, `client_ip`).
    find_client: Callable[[], str | None] = field(default=lambda: None)
    # Set by Strawberry from a WebSocket's connection_init payload.
    connection_params: dict[str, object] | None = None
    # A WebSocket connection's context: subscriptions only (schema/documents.py).
    over_websocket: bool = False
    # Closes the WebSocket of a subscriber that fell too far behind (schema/websocket.py).
    drop: Callable[[], None] = field(default=lambda: None)
    # Where the request's loaders read (schema/consistency.py): a replica, or the
    # primary's pool when None.
    reads_from: Lender | None = None
    loaders: Loaders = field(init=False)
    # The request's share of the read pool (db/read_pool.py, Share).
    reads: Share = field(init=False)

    def __post_init__(self) -> None:
        # Built here, per request and inside the running loop, so no cache outlives
        # the request or crosses viewers.
        pool = self.services.read_pool if self.reads_from is None else self.reads_from
        self.reads = pool.share()
        self.loaders = Loaders(self.reads, self.viewer)

    @property
    def client_ip(self) -> str | None:
        """The client's address; None when the server gave no peer."""
        return self.find_client()

    def read_from_primary(self) -> None:
        """For a mutation: whatever it and its payload read must be the primary's latest."""
        if self.reads_from is not None:
            self.reads_from = None
            self.reads = self.services.read_pool.share()
            self.reset_loaders()

    def sign_in(self, viewer: Viewer | None, token: str | None) -> None:
        self.viewer, self.token = viewer, token
        self.reset_loaders()

    def reset_loaders(self) -> None:
        """After a write: later reads in this request must see the new state."""
        self.loaders = Loaders(self.reads, self.viewer)


Info: TypeAlias = strawberry.Info[Context, None]
