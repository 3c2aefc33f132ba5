"""Read-your-writes over read replicas (API.md, "Several instances").

A mutation's answer carries a consistency token: the primary's WAL position after
the mutation committed (`extensions.consistencyToken` and the `x-storefront-consistency`
header). A request that sends it back in the same header reads from a replica only if
that replica has replayed that far (db/replicas.py), else from the primary, so it is
never answered with data older than the mutation. Without replicas configured the
header is still checked, so that a client's mistake shows wherever it runs, and no
token is given (every read is on the primary).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

from graphql import OperationType, get_operation_ast

from db.read_pool import Lender
from db.replicas import Replicas, format_lsn, parse_lsn, primary_position
from schema.context import Context, Services
from schema.documents import Documents
from schema.errors import log_unexpected
from schema.transport import BadRequest

HEADER = "x-storefront-consistency"
EXTENSION = "consistencyToken"


def requested_position(headers: Mapping[str, str]) -> int | None:
    """The position the request's consistency token names; None without one."""
    raw = headers.get(HEADER)
    if raw is None:
        return None
    position = parse_lsn(raw.strip())
    if position is None:
        raise BadRequest(
            f"The {HEADER} header must be a consistency token a mutation returned "
            "(like '0/16B3748'), as it was returned"
        )
    return position


def reads_for(services: Services, headers: Mapping[str, str]) -> Awaitable[Lender] | None:
    """Where the request's queries read, a replica or the primary, once awaited; None,
    with nothing to await, for the primary's pool when no replica is configured. A
    malformed consistency token is refused either way."""
    position = requested_position(headers)
    if services.replicas is None:
        return None
    return services.replicas.reads_for(position)


def is_mutation(documents: Documents, query: str, operation_name: str | None) -> bool:
    """Whether the operation a request names is a mutation (from the cached document)."""
    document = documents.get(query).document
    operation = None if document is None else get_operation_ast(document, operation_name)
    return operation is not None and operation.operation == OperationType.MUTATION


async def after_mutation(context: Context, payload: dict[str, Any]) -> None:
    """Give a mutation's answer its consistency token (with replicas configured)."""
    replicas: Replicas | None = context.services.replicas
    if replicas is None:
        return
    try:
        position = await primary_position(context.services.read_pool)
    except Exception as exc:
        # The mutation has committed: failing its answer now would invite a retry that
        # writes twice. Without a token the client is promised nothing and may read an
        # older replica, as a client that never sends one does.
        log_unexpected(exc, "consistency token", context.request_id)
        return
    payload["extensions"] = {**payload.get("extensions", {}), EXTENSION: format_lsn(position)}


def response_headers(payload: dict[str, Any]) -> dict[str, str] | None:
    """The header that repeats a mutation's consistency token, when it has one."""
    token = payload.get("extensions", {}).get(EXTENSION)
    return None if token is None else {HEADER: token}
