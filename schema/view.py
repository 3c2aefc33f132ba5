"""The /graphql endpoint: Strawberry's ASGI view with our context, limits and JSON."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Mapping
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema.base import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from db.accounts import Viewer, viewer_by_token
from db.engine import read
from db.statement_counter import StatementLog, counting
from schema import Schema
from schema.client_address import client_address
from schema.context import Context, Services
from schema.fast import FastPath
from schema.plain_http import (
    BodyTooLarge,
    is_json_post,
    plain_document,
    read_body,
    replay,
    send_json,
)

log = logging.getLogger("storefront.http")


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    """graphql-transport-ws speaks in text frames; orjson gives bytes."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class GraphQLView(GraphQL[Context, None]):
    websocket_adapter_class = TextWebSocketAdapter

    def __init__(
        self,
        schema: BaseSchema,
        *,
        graphiql: bool,
        max_body_bytes: int,
        request_timeout_s: float,
        debug_sql: bool = False,
        fast_path: bool = True,
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None)
        self.max_body_bytes = max_body_bytes
        self.request_timeout_s = request_timeout_s
        self.debug_sql = debug_sql
        self.fast = FastPath(schema) if fast_path and isinstance(schema, Schema) else None
        self.services: Services | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        if _accepts_graphql_response(scope):
            send = _as_graphql_response(send)
        try:
            if self.fast is not None and is_json_post(scope):
                body = await read_body(receive, self.max_body_bytes)
                if await self._answer_plain_read(scope, body, send):
                    return
                receive = replay(body, receive)
            await super().__call__(scope, self._limited(receive), send)
        except BodyTooLarge:
            await self._too_large(scope, receive, send)

    async def _answer_plain_read(self, scope: Scope, body: bytes, send: Send) -> bool:
        """Answer a plain JSON read with the lean executor, without Strawberry's view.

        False when the request or its document needs anything more (then the body
        goes through Strawberry, which reports any error as usual).
        """
        assert self.fast is not None
        assert self.services is not None
        document = plain_document(body)
        # Mutations and the like go to Strawberry before any work is done for them
        # here (the token lookup would otherwise run twice).
        if document is None or not self.fast.may_answer(document[0], document[2]):
            return False
        context = await self._context(Headers(scope=scope), scope.get("client"))
        if context.auth_error is not None:
            return False
        payload: dict[str, Any]
        try:
            async with asyncio.timeout(self.request_timeout_s):
                with self._statement_count() as statements:
                    data = await self.fast.execute(*document, context)
        except TimeoutError:
            payload = {"data": None, "errors": [self._timed_out(context).formatted]}
        else:
            if data is None:
                return False
            payload = {"data": data}
            if statements is not None:
                payload["extensions"] = {"sqlStatements": statements.count}
        await send_json(send, payload, request_id=context.request_id)
        return True

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"Request body is larger than {self.max_body_bytes} bytes"
        await PlainTextResponse(message, status_code=413)(scope, receive, send)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body_bytes:
                raise BodyTooLarge
            return message

        return limited

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        context = await self._context(request.headers, request.scope.get("client"))
        if isinstance(response, Response):
            response.headers["x-request-id"] = context.request_id
        return context

    async def _context(self, headers: Headers, client: tuple[str, int] | None) -> Context:
        """The request's Context: its id and the viewer its Authorization header names."""
        assert self.services is not None, "the app's lifespan has not run"
        viewer, token, auth_error = await self._authenticate(headers.get("authorization"))
        return Context(
            services=self.services,
            viewer=viewer,
            request_id=_request_id(headers),
            token=token,
            auth_error=auth_error,
            client_ip=client_address(headers, client, self.services.trusted_proxies),
        )

    def _statement_count(self) -> contextlib.AbstractContextManager[StatementLog | None]:
        """A count of the SQL a request runs, when STOREFRONT_DEBUG_SQL asks for it."""
        return counting() if self.debug_sql else contextlib.nullcontext()

    async def _authenticate(
        self, header: str | None
    ) -> tuple[Viewer | None, str | None, str | None]:
        """(viewer, token, problem) from an Authorization header; no header is anonymous."""
        assert self.services is not None
        token, problem = _bearer(header)
        if token is None:
            return None, None, problem
        viewer = await read(self.services.read_pool, viewer_by_token, token)
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

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        if context.auth_error is not None:
            return _error_result(context.auth_error, "UNAUTHENTICATED")
        try:
            async with asyncio.timeout(self.request_timeout_s):
                with self._statement_count() as statements:
                    result = await self._execute(
                        request, request_adapter, sub_response, context, request_data
                    )
            if statements is not None:
                result.extensions = {**(result.extensions or {}), "sqlStatements": statements.count}
            return result
        except TimeoutError:
            return ExecutionResult(data=None, errors=[self._timed_out(context)])
        except HTTPException as exc:
            if isinstance(exc.__cause__, InvalidOperationTypeError):
                raise HTTPException(405, exc.reason) from exc
            raise

    async def _execute(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """The lean executor when it can answer the document; Strawberry's otherwise."""
        if self.fast is not None and request_data.query is not None:
            data = await self.fast.execute(
                request_data.query, request_data.variables, request_data.operation_name, context
            )
            if data is not None:
                return ExecutionResult(data=data, errors=None)
        result = await super().execute_single(
            request, request_adapter, sub_response, context, None, request_data
        )
        if _is_request_error(result) and GRAPHQL_RESPONSE.decode() in request.headers.get(
            "accept", ""
        ):
            # GraphQL over HTTP: a document that never ran is a 400 for this media type.
            sub_response.status_code = 400
        return result

    def _timed_out(self, context: Context) -> GraphQLError:
        log.warning("request %s cut off after %.1f s", context.request_id, self.request_timeout_s)
        return GraphQLError(
            "The request took too long and was cut off",
            extensions={"code": "TIMEOUT", "requestId": context.request_id},
        )

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def _request_id(headers: Headers) -> str:
    """The caller's X-Request-ID (trimmed), or a new one."""
    return headers.get("x-request-id", "")[:64] or secrets.token_hex(8)


def _error_result(message: str, code: str, **extensions: Any) -> ExecutionResult:
    return ExecutionResult(
        data=None, errors=[GraphQLError(message, extensions={"code": code, **extensions})]
    )


def _bearer(header: str | None) -> tuple[str | None, str | None]:
    """(token, problem) from an Authorization header; a missing header is anonymous."""
    if header is None:
        return None, None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None, "The Authorization header must be 'Bearer <token>'"
    return token.strip(), None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


GRAPHQL_RESPONSE = b"application/graphql-response+json"
REQUEST_ERRORS = {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"}


def _is_request_error(result: ExecutionResult) -> bool:
    """Parse and validation failures: the document was refused before it ran."""
    return result.data is None and any(
        (error.extensions or {}).get("code") in REQUEST_ERRORS for error in result.errors or ()
    )


def _accepts_graphql_response(scope: Scope) -> bool:
    return any(name == b"accept" and GRAPHQL_RESPONSE in value for name, value in scope["headers"])


def _as_graphql_response(send: Send) -> Send:
    """Label a JSON result with the media type the client asked for (GraphQL over HTTP)."""

    async def relabelled(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [
                (name, GRAPHQL_RESPONSE + b"; charset=utf-8")
                if name == b"content-type" and value.startswith(b"application/json")
                else (name, value)
                for name, value in message["headers"]
            ]
            message = {**message, "headers": headers}
        await send(message)

    return relabelled
