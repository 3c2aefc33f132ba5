"""The SHA-256 that names a persisted document: of its UTF-8 text, as hex."""

from __future__ import annotations

import hashlib


def sha256(text: str) -> str:
    # surrogatepass: JSON may carry lone surrogates; they must hash, not raise.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
