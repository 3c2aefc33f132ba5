"""The Query root."""

from __future__ import annotations

import strawberry


@strawberry.type
class Query:
    @strawberry.field(description="The service's version.")
    def version(self) -> str:
        return "0.1.0"
