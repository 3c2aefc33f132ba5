"""Opaque global IDs: base64url of "Type:pk"."""

from __future__ import annotations

import base64
import binascii
import functools

NODE_TYPES = frozenset({"User", "Post", "Tag", "Product", "Order"})
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def encode_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode_id(value: str) -> tuple[str, int] | None:
    """(type, pk) of a well-formed ID of a known type; None for anything else."""
    if len(value) > 64:
        return None
    return _decoded(value)


# Every lookup by ID decodes one, and a client asks for the same ones again and again:
# remembered, decoding costs a seventh of what it does (an ID is at most 64 characters,
# so the cache holds under 1 MB, its own bookkeeping included).
@functools.lru_cache(maxsize=2048)
def _decoded(value: str) -> tuple[str, int] | None:
    try:
        # base64.urlsafe_b64decode's own steps, without its three Python-level calls
        # (every lookup by ID decodes one): non-ASCII text raises UnicodeEncodeError.
        padded = value.encode("ascii").translate(_FROM_URLSAFE) + b"=" * (-len(value) % 4)
        raw = binascii.a2b_base64(padded).decode()
    except (binascii.Error, ValueError):  # UnicodeError is a ValueError
        return None
    type_name, _, pk = raw.partition(":")
    if type_name not in NODE_TYPES or not (pk.isascii() and pk.isdigit()) or len(pk) > 18:
        return None
    return type_name, int(pk)


def decode_id_of(value: str, type_name: str) -> int | None:
    """The pk of an ID that names a `type_name`; None when malformed or of another type."""
    decoded = decode_id(value)
    if decoded is None or decoded[0] != type_name:
        return None
    return decoded[1]
