"""A route for the one endpoint nearly every request is for, taken before Starlette's.

Starlette's router, and the exception middleware around it, cost a GraphQL request
more than a third of what Observe, Cors and Gzip together do (a `Request` built per
request, each route matched by regular expression, two more wrappers around `send`):
about 3 % of a post-by-id read. The view needs none of it: it answers every error
itself, as a GraphQL body. So an HTTP request for `path` goes straight to it, and
everything else (the WebSocket, health checks, GraphiQL's files) through the router.
Observe stays outermost for both (app.py's `Storefront` leaves out Starlette's
ServerErrorMiddleware, which would only wrap `send` once more).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class DirectRoute:
    def __init__(self, app: ASGIApp, *, path: str, endpoint: ASGIApp) -> None:
        self.app = app
        self.path = path
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _route_path(scope) == self.path:
            await self.endpoint(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path below the app's mount point, as Starlette's router matches it."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        return path[len(root_path) :]
    return path
