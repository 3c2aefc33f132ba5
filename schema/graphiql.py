"""GraphiQL from the service's own origin: the page at /graphql, its files at /graphiql/.

The page (static/graphiql/graphiql.html) loads GraphiQL, React and the explorer plugin
from static/graphiql/vendor/ (vendored by static/graphiql/vendor.py, pinned in
static/graphiql/VERSIONS) and starts them with static/graphiql/storefront.js, so it
works with no internet and under a Content-Security-Policy that allows only 'self'.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

GRAPHIQL_DIR = Path(__file__).resolve().parent.parent / "static" / "graphiql"
# Where app.py mounts the files; graphiql.html names them relative to /graphql.
ASSETS_PATH = "/graphiql"
# What the mount serves: the page's scripts, styles, icon and the licence texts, not
# the page itself (served at /graphql), nor vendor.py, VERSIONS or README.md.
ASSET_SUFFIXES = frozenset({".js", ".css", ".svg", ".txt"})

# The page's start-up script carries this placeholder as its nonce (graphiql.html);
# each response replaces it with a fresh one.
NONCE_PLACEHOLDER = b"__STYLE_NONCE__"


def content_security_policy(style_nonce: str | None = None) -> str:
    """Only 'self': no other host, no inline script, no eval.

    GraphiQL adds one <style> element at run time: its dialogs (settings, keyboard
    shortcuts) lock the page's scroll bar through react-remove-scroll, which gives that
    element the nonce in the global `__webpack_nonce__` (storefront.js sets it from its
    own script tag). So styles need no 'unsafe-inline': the page allows that one
    element by a nonce made afresh for each response. (Blocked, the dialogs still work;
    the browser's console reports the refusal.)
    """
    styles = "'self'" if style_nonce is None else f"'self' 'nonce-{style_nonce}'"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            f"style-src {styles}",
            # graphiql.min.css carries its fonts and a few images as data: URLs.
            "font-src 'self' data:",
            "img-src 'self' data:",
            # Queries over fetch; subscriptions over a WebSocket to the same host and port.
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _headers(style_nonce: str | None = None) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(style_nonce),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        # Revalidated on every load (a 304 while unchanged), so an upgrade shows at once;
        # the page itself differs every time (its nonce).
        "Cache-Control": "no-cache",
    }


def page() -> HTMLResponse:
    """The GraphiQL page, with its Content-Security-Policy and a fresh style nonce."""
    nonce = secrets.token_urlsafe(18)
    body = PAGE.replace(NONCE_PLACEHOLDER, nonce.encode())
    return HTMLResponse(body, headers=_headers(nonce))


class Assets(StaticFiles):
    """static/graphiql/'s scripts, styles and licences, with the page's headers."""

    def __init__(self) -> None:
        super().__init__(directory=GRAPHIQL_DIR)

    async def get_response(self, path: str, scope: Scope) -> Response:
        if Path(path).suffix not in ASSET_SUFFIXES:
            return PlainTextResponse("Not Found", status_code=404)
        response = await super().get_response(path, scope)
        response.headers.update(ASSET_HEADERS)
        return response


PAGE = (GRAPHIQL_DIR / "graphiql.html").read_bytes()
assert NONCE_PLACEHOLDER in PAGE, "graphiql.html lost its nonce placeholder"
ASSET_HEADERS = _headers()
