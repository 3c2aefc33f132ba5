"""Every per-request DataLoader, one line each."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from db.accounts import Viewer


class Loaders:
    def __init__(self, engine: AsyncEngine, viewer: Viewer | None) -> None:
        self.engine = engine
        self.viewer = viewer
