"""Short, stable names for content: the same content gives the same name wherever and whenever
it is computed (a rule set's and a zone set's version, a rule's definition in a state)."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson


def content_digest(data: Any) -> str:
    """The first 12 hex digits of the SHA-256 of `data` as canonical JSON (sorted keys)."""
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]
