"""The /graphql endpoint: GraphQL over HTTP, with our context, limits and deadline.

Queries and mutations over HTTP are read and answered here (schema/transport.py
reads the envelope; the lean executor answers queries, Strawberry's executor
the rest). A browser opening /graphql gets our GraphiQL page (schema/graphiql.py,
every file from this origin). Strawberry's own view serves subscriptions over the
WebSocket, with our limits (schema/websocket.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

import orjson
from graphql import GraphQLError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from db.accounts import Viewer
from db.failures import connection_failure
from db.statement_counter import counting
from schema import Schema
from schema.client_address import client_address
from schema.compression import LEVEL, MINIMUM_BYTES, Gzip, encode_large
from schema.consistency import after_mutation, is_mutation, reads_for, response_headers
from schema.context import Context, Services
from schema.deadline import Deadline
from schema.errors import INTERNAL_MESSAGE, log_unexpected
from schema.executor.fast_path import FastPath
from schema.graphiql import page as graphiql_page
from schema.middleware import request_id_of
from schema.observe import Exchange, exchange_of, viewer_kind
from schema.persisted import PersistedDocuments, Refused
from schema.transport import (
    GRAPHQL_RESPONSE,
    BadRequest,
    Params,
    Reply,
    check_body_type,
    declared_length,
    error_body,
    header_map,
    json_response,
    params_from_body,
    params_from_query_string,
    read_body,
    response_media_type,
    too_large,
)
from schema.websocket import (
    INIT_TIMEOUT,
    Connections,
    SignedIn,
    SocketLimits,
    TextWebSocketAdapter,
    TransportWsHandler,
    dropper,
)

log = logging.getLogger("storefront.http")

# Codes of errors that refuse a document before it runs (GraphQL over HTTP's
# "request errors": no `data`, and 400 for application/graphql-response+json).
REQUEST_ERRORS = frozenset(
    {
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "QUERY_TOO_COMPLEX",
        "PERSISTED_QUERY_NOT_FOUND",
    }
)
# A request that could not reach the database at all (503): when to try again.
UNAVAILABLE_MESSAGE = "The service cannot reach its database just now; try again shortly"
RETRY_AFTER_S = "1"
QUERY_ONLY = (OperationType.QUERY,)
QUERIES_AND_MUTATIONS = (OperationType.QUERY, OperationType.MUTATION)


class GraphQLView(GraphQL[Context, None]):
    websocket_adapter_class = TextWebSocketAdapter
    graphql_transport_ws_handler_class = TransportWsHandler

    def __init__(
        self,
        schema: Schema,
        *,
        graphiql: bool,
        max_body_bytes: int,
        max_response_bytes: int,
        request_timeout_s: float,
        debug_sql: bool,
        fast_path: bool,
        trusted_documents: Mapping[str, str] | None,
        sockets: SocketLimits | None = None,
    ) -> None:
        """`trusted_documents`: hash -> document, for trusted-documents mode."""
        sockets = sockets or SocketLimits()
        # Strawberry's own GraphiQL page loads its files from a public CDN; ours
        # (schema/graphiql.py) is served from this origin, so Strawberry's is off.
        super().__init__(
            schema,
            graphql_ide=None,
            # API.md's one protocol; the legacy `graphql-ws` would bypass our handler.
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=INIT_TIMEOUT,
            max_subscriptions_per_connection=sockets.subscriptions_per_connection,
        )
        self.ping_interval_s = sockets.ping_interval_s
        self.connections = Connections(sockets.connections)
        self.signed_in = SignedIn()
        self.graphiql_enabled = graphiql
        self.max_body_bytes = max_body_bytes
        self.max_response_bytes = max_response_bytes
        self.request_timeout_s = request_timeout_s
        self.debug_sql = debug_sql
        self.fast = FastPath(schema, max_response_bytes=max_response_bytes) if fast_path else None
        self.documents = schema.documents
        self.persisted = PersistedDocuments(schema.documents, trusted_documents)
        self.services: Services | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.connections.serve(scope, receive, send, super().__call__)
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        if self._wants_graphiql(scope):
            # The one answer here that is not a Reply: through the middleware, since
            # DirectRoute hands /graphql over above the app's.
            page = Gzip(graphiql_page(), minimum_size=MINIMUM_BYTES, level=LEVEL)
            await page(scope, receive, send)
            return
        reply = await self._respond(scope, receive)
        if len(reply.body) >= MINIMUM_BYTES:
            reply.body, reply.headers = await encode_large(
                reply.body, reply.headers, scope["headers"]
            )
        await reply(scope, receive, send)

    def _wants_graphiql(self, scope: Scope) -> bool:
        """A browser opening /graphql itself (a GET that carries a request is run here)."""
        if scope["method"] != "GET" or not self.graphiql_enabled or scope.get("query_string"):
            return False
        return "text/html" in Headers(scope=scope).get("accept", "")

    async def _respond(self, scope: Scope, receive: Receive) -> Reply:
        headers = header_map(scope)
        exchange = exchange_of(scope) or Exchange(
            request_id_of(scope), scope["method"], scope["path"]
        )
        request_id = exchange.request_id
        try:
            media_type = response_media_type(headers)
        except BadRequest as problem:
            return _refusal(problem, "application/json", exchange)
        try:
            with Deadline(self.request_timeout_s):
                params = await self._params(scope, receive, headers)
                context = await self._context(scope, headers, request_id, replica_reads=True)
                payload, refused = await self._answer(scope["method"], params, context, exchange)
        except BadRequest as problem:
            return _refusal(problem, media_type, exchange)
        except TimeoutError:
            payload, refused = {"data": None, "errors": [self._timed_out(request_id)]}, False
            exchange.answered(payload)
        except Exception as exc:
            # e.g. the token lookup with the database down: logged safely and throttled.
            log_unexpected(exc, "request", request_id)
            return _failed(exc, media_type, exchange)
        status = 400 if refused and media_type == GRAPHQL_RESPONSE else 200
        response = json_response(
            payload, status=status, media_type=media_type, headers=response_headers(payload)
        )
        if len(response.body) > self.max_response_bytes:
            message = f"The answer is larger than {self.max_response_bytes} bytes"
            payload = error_body(message, "QUERY_TOO_COMPLEX", limit="responseBytes")
            exchange.answered(payload)
            return json_response({"data": None, **payload}, media_type=media_type)
        return response

    async def _params(self, scope: Scope, receive: Receive, headers: Mapping[str, str]) -> Params:
        if scope["method"] == "GET":
            return params_from_query_string(scope)
        if scope["method"] != "POST":
            raise BadRequest("Use GET or POST", status=405, headers={"Allow": "GET, POST"})
        check_body_type(headers)
        declared = declared_length(headers)
        if declared is not None and declared > self.max_body_bytes:
            raise too_large(self.max_body_bytes)
        return params_from_body(await read_body(receive, self.max_body_bytes))

    async def _answer(
        self, method: str, params: Params, context: Context, exchange: Exchange
    ) -> tuple[dict[str, Any], bool]:
        """The response body, and whether the document was refused before it ran."""
        exchange.viewer = viewer_kind(context.viewer)
        if context.auth_error is not None:
            payload = {"data": None, **error_body(context.auth_error, "UNAUTHENTICATED")}
            exchange.answered(payload)
            return payload, False
        query = params.query
        if params.extensions or params.document_id or self.persisted.trusted is not None:
            try:
                query = await self.persisted.text(
                    context.services, params.query, params.extensions, params.document_id
                )
            except Refused as refusal:
                refusal_body = error_body(refusal.message, refusal.code)
                exchange.answered(refusal_body)
                return refusal_body, True
        if query is None:
            raise BadRequest("The request has no `query`")
        # Always counted (a list append per statement): the access line and the
        # metrics report it. STOREFRONT_DEBUG_SQL also times each statement and shows
        # the client what its query cost (GraphiQL shows `extensions` with the answer).
        with counting(timed=self.debug_sql) as statements:
            payload, refused = await self._execute(method, query, params, context)
        exchange.sql_statements = statements.count
        self._describe(exchange, query, params.operation_name)
        exchange.answered(payload)
        if self.debug_sql:
            payload["extensions"] = {
                **payload.get("extensions", {}),
                "sqlStatements": statements.count,
                "sql": [
                    {"shape": timing.shape, "ms": timing.ms, "rows": timing.rows}
                    for timing in statements.timings
                ],
            }
        return payload, refused

    def _describe(self, exchange: Exchange, query: str, operation_name: str | None) -> None:
        """The operation's name and type and the document's hash (cached per document)."""
        described = self.persisted.documents.describe(query, operation_name)
        exchange.document_hash = described.digest
        exchange.operation_type = described.operation_type
        exchange.operation_name = described.operation_name

    async def _execute(
        self, method: str, query: str, params: Params, context: Context
    ) -> tuple[dict[str, Any], bool]:
        if self.fast is not None:
            answer = await self.fast.execute(
                query, params.variables, params.operation_name, context
            )
            if answer is not None:
                return answer.payload, answer.refused
        allowed = QUERY_ONLY if method == "GET" else QUERIES_AND_MUTATIONS
        mutation = is_mutation(self.documents, query, params.operation_name)
        if mutation:
            context.read_from_primary()
        try:
            result = await self.schema.execute(
                query,
                variable_values=params.variables,
                context_value=context,
                operation_name=params.operation_name,
                allowed_operation_types=allowed,
            )
        except InvalidOperationTypeError as exc:
            if method == "GET" and exc.operation_type == OperationType.MUTATION:
                raise BadRequest(
                    "Mutations are sent with POST", status=405, headers={"Allow": "POST"}
                ) from None
            raise BadRequest("Subscriptions are served over the WebSocket at /graphql") from None
        except MissingQueryError:
            raise BadRequest("The request has no `query`") from None
        except CannotGetOperationTypeError:
            # schema/documents.py refuses such documents first; this is its backstop.
            return error_body(
                "The document names no operation to run", "GRAPHQL_VALIDATION_FAILED"
            ), True
        errors = [error.formatted for error in result.errors or ()]
        refused = result.data is None and any(_refuses(error) for error in errors)
        payload: dict[str, Any] = {} if refused else {"data": result.data}
        if errors:
            payload["errors"] = errors
        if mutation and not refused:
            await after_mutation(context, payload)
        return payload, refused

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        """For the WebSocket (Strawberry's view): a connection's context."""
        scope = request.scope
        context = await self._context(scope, request.headers, request_id_of(scope))
        if isinstance(request, WebSocket):
            context.over_websocket = True
            context.drop = dropper(request)
        return context

    async def _context(
        self,
        scope: Scope,
        headers: Mapping[str, str],
        request_id: str,
        *,
        replica_reads: bool = False,
    ) -> Context:
        """The request's Context: its id and the viewer its Authorization header names.
        `replica_reads`: its queries may read from a replica (never on the WebSocket: an
        event is resolved as soon as it is committed on the primary)."""
        assert self.services is not None, "the app's lifespan has not run"
        # Neither awaited when there is nothing to wait for (no replicas, no token).
        choosing = reads_for(self.services, headers) if replica_reads else None
        reads_from = None if choosing is None else await choosing
        header = headers.get("authorization")
        viewer, token, auth_error = (
            _ANONYMOUS if header is None else await self._authenticate(header)
        )
        return Context(
            services=self.services,
            viewer=viewer,
            request_id=request_id,
            token=token,
            auth_error=auth_error,
            # Found only when asked for (signing in and up are throttled by it).
            find_client=partial(
                client_address, scope["headers"], scope.get("client"), self.services.trusted_proxies
            ),
            reads_from=reads_from,
        )

    async def _authenticate(
        self, header: str | None
    ) -> tuple[Viewer | None, str | None, str | None]:
        """(viewer, token, problem) from an Authorization header; no header is anonymous."""
        assert self.services is not None
        token, problem = _bearer(header)
        if token is None:
            return None, None, problem
        # Always on the primary: a token signed out there is refused at once, however
        # far a replica lags.
        viewer = await self.services.sign_ins.viewer(self.services.read_pool, token)
        if viewer is None:
            return None, None, "The token is invalid, expired or revoked"
        return viewer, token, None

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """A WebSocket may sign in with `{"Authorization": "Bearer ..."}` in connection_init."""
        params = context.connection_params or {}
        header = params.get("Authorization", params.get("authorization"))
        if isinstance(header, str):
            viewer, token, problem = await self._authenticate(header)
            if problem is not None:
                raise ConnectionRejectionError({"message": problem, "code": "UNAUTHENTICATED"})
            context.sign_in(viewer, token)
        elif context.auth_error is not None:
            raise ConnectionRejectionError(
                {"message": context.auth_error, "code": "UNAUTHENTICATED"}
            )
        unset: UnsetType = UNSET
        return unset

    def _timed_out(self, request_id: str) -> dict[str, Any]:
        log.warning("request %s cut off after %.1f s", request_id, self.request_timeout_s)
        error = GraphQLError(
            "The request took too long and was cut off",
            extensions={"code": "TIMEOUT", "requestId": request_id},
        )
        return dict(error.formatted)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


# (viewer, token, problem) of a request with no Authorization header.
_ANONYMOUS: tuple[None, None, None] = (None, None, None)


def _refuses(error: Mapping[str, Any]) -> bool:
    """Whether an error of a result with no data refused the document before it ran:
    a request error, or variables that do not coerce (graphql-core reports those
    before execution, with no path; the lean executor refuses them the same way)."""
    code = (error.get("extensions") or {}).get("code")
    return code in REQUEST_ERRORS or (code == "BAD_USER_INPUT" and "path" not in error)


def _failed(error: Exception, media_type: str, exchange: Exchange) -> Reply:
    """A request that failed before its document ran. With the database out of reach
    (the token could not be looked up), 503 with Retry-After: the client may try again
    in a moment, and a load balancer knows to. Anything else is the masked 500."""
    lost = connection_failure(error) is not None
    message = UNAVAILABLE_MESSAGE if lost else INTERNAL_MESSAGE
    body = error_body(message, "INTERNAL_SERVER_ERROR", requestId=exchange.request_id)
    exchange.answered(body)
    if lost:
        return json_response(
            body, status=503, media_type=media_type, headers={"Retry-After": RETRY_AFTER_S}
        )
    return json_response(body, status=500, media_type=media_type)


def _refusal(problem: BadRequest, media_type: str, exchange: Exchange) -> Reply:
    body = error_body(problem.message, problem.code)
    exchange.answered(body)
    return json_response(
        body,
        status=problem.status,
        media_type=media_type,
        headers=problem.headers,
    )


def _bearer(header: str | None) -> tuple[str | None, str | None]:
    """(token, problem) from an Authorization header; a missing header is anonymous."""
    if header is None:
        return None, None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None, "The Authorization header must be 'Bearer <token>'"
    return token.strip(), None
