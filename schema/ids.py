"""Opaque global IDs: base64url of "Type:pk"."""

from __future__ import annotations

import base64
import binascii

NODE_TYPES = frozenset({"User", "Post", "Tag", "Product", "Order"})


def encode_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode_id(value: str) -> tuple[str, int] | None:
    """(type, pk) of a well-formed ID of a known type; None for anything else."""
    if len(value) > 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
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
