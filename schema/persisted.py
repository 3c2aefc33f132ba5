"""Persisted documents: Apollo's automatic persisted queries, and trusted-documents mode.

APQ (API.md, "Limits"): a request may name its document by the SHA-256 of its
text (`extensions.persistedQuery.sha256Hash`). An unknown hash alone gets
PERSISTED_QUERY_NOT_FOUND, and the client sends the hash again with the text; a
text whose hash does not match gets BAD_USER_INPUT and runs nothing. Stored
documents live in PostgreSQL, so every instance finds what one stored, with a
bounded cache in each process.

Trusted-documents mode (`STOREFRONT_TRUSTED_DOCUMENTS`) serves only the
documents of a manifest, as graphql-codegen's client preset writes it
(`{"<sha256>": "<document>"}`): named by `documentId` or by the APQ hash, or sent
as text whose hash is in the manifest. Anything else gets
PERSISTED_QUERY_NOT_FOUND. schema/documents.py enforces that for every path,
the WebSocket included.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from db import persisted_queries
from db.engine import read
from db.tally import child
from db.validation import check_text
from schema import metrics
from schema.context import Services
from schema.documents import Documents
from schema.hashing import sha256

HASH = re.compile(r"[0-9a-f]{64}")
# A manifest's keys are whatever hash its generator used (graphql-codegen's client
# preset: sha256 or sha1, hex).
MANIFEST_KEY = re.compile(r"[0-9A-Za-z_:-]{1,200}")
CACHED = 4096
CACHED_TEXT = 4 * 1024 * 1024


class Refused(Exception):
    """A persisted-document request that runs nothing: its error code and message."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def not_found() -> Refused:
    return Refused("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")


def load_manifest(path: Path) -> dict[str, str]:
    """graphql-codegen's persisted-documents manifest: hash -> document. ValueError
    naming the problem for anything else."""
    try:
        manifest = json.loads(path.read_text())
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise ValueError(f"{path} is not JSON") from None
    if not isinstance(manifest, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in manifest.items()
    ):
        raise ValueError(f"{path} is not a JSON object of hash -> document")
    # A document is named by its key as written (whatever hash the generator used) and
    # by the SHA-256 of its text (what an APQ client sends).
    named = {sha256(value): value for value in manifest.values()}
    named.update({key.removeprefix("sha256:").lower(): value for key, value in manifest.items()})
    return named


class PersistedDocuments:
    """Turns a request's document reference into its text."""

    def __init__(self, documents: Documents, trusted: Mapping[str, str] | None = None) -> None:
        self.documents = documents
        self.trusted = dict(trusted) if trusted is not None else None
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._text = 0

    async def text(
        self,
        services: Services,
        query: str | None,
        extensions: Mapping[str, Any] | None,
        document_id: str | None,
    ) -> str | None:
        """The document to run (None when the request names none at all)."""
        if self.trusted is not None:
            wanted = _requested_key(extensions, document_id)
            if wanted is None:
                return query  # checked against the manifest with every other document
            found = self.trusted.get(wanted)
            _count("miss" if found is None else "hit")
            if found is None:
                raise not_found()
            return found
        wanted = _requested_hash(extensions, document_id)
        if wanted is None:
            return query
        if query is not None:
            if sha256(query) != wanted:
                raise Refused(
                    "The persisted query's sha256Hash does not match its query", "BAD_USER_INPUT"
                )
            # Only documents that may run are kept: junk never reaches the table (and
            # PostgreSQL could not store a NUL).
            storable = check_text(query) is None and not self.documents.get(query).errors
            if wanted not in self._cache and storable:
                async with services.sessionmaker.begin() as session:
                    await persisted_queries.store(session, wanted, query)
                self._remember(wanted, query)
                _count("stored")
            return query
        cached = self._cache.get(wanted)
        if cached is not None:
            self._cache.move_to_end(wanted)
            _count("hit")
            return cached
        stored = await read(services.read_pool, persisted_queries.query_by_hash, wanted)
        _count("miss" if stored is None else "hit")
        if stored is None:
            raise not_found()
        self._remember(wanted, stored)
        return stored

    def _remember(self, digest: str, query: str) -> None:
        self._cache[digest] = query
        self._text += len(query)
        while len(self._cache) > CACHED or self._text > CACHED_TEXT:
            _, dropped = self._cache.popitem(last=False)
            self._text -= len(dropped)


def _count(result: str) -> None:
    if metrics.metrics is not None:
        child(metrics.metrics.persisted, result).inc()


def _requested_key(extensions: Mapping[str, Any] | None, document_id: str | None) -> str | None:
    """The manifest key a request names its document by (trusted-documents mode)."""
    if document_id is None:
        return _requested_hash(extensions, None)
    key = document_id.removeprefix("sha256:")
    if not MANIFEST_KEY.fullmatch(key):
        raise Refused("`documentId` is not a document hash", "BAD_USER_INPUT")
    return key.lower()


def _requested_hash(extensions: Mapping[str, Any] | None, document_id: str | None) -> str | None:
    """The lower-case hex hash a request names its document by, if any."""
    raw: object = None
    if document_id is not None:
        raw = document_id.removeprefix("sha256:")
    elif extensions is not None and "persistedQuery" in extensions:
        persisted = extensions["persistedQuery"]
        if not isinstance(persisted, dict):
            raise Refused("`extensions.persistedQuery` must be an object", "BAD_USER_INPUT")
        raw = persisted.get("sha256Hash")
    if raw is None:
        return None
    if not isinstance(raw, str) or not HASH.fullmatch(raw.lower()):
        raise Refused("A persisted document's hash is 64 hexadecimal digits", "BAD_USER_INPUT")
    return raw.lower()
