"""Page sizes and page tokens (AIP-158), pure functions.

A page token is opaque to clients: base64url of a small JSON document holding the
position after the last row of the previous page (a keyset cursor, so rows added or
removed meanwhile never shift a page) and a fingerprint of the query it belongs to (the
tenant, the method and its filters). A token from another query, or one that was
altered, is INVALID_ARGUMENT. The page size may change from page to page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from distill_core.errors import InvalidInput

_VERSION = 1


def page_size(requested: int, *, default: int, maximum: int) -> int:
    """The page size to use: `default` for 0, an error when negative or over `maximum`."""
    if requested < 0:
        raise InvalidInput(f"page_size must not be negative (got {requested})")
    if requested > maximum:
        raise InvalidInput(f"page_size {requested} is over the limit of {maximum}")
    return requested or default


def fingerprint(method: str, tenant: str, query: dict[str, Any]) -> str:
    """A short digest naming one query: the same method, tenant and filters give the same one."""
    canonical = json.dumps([method, tenant, query], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _checksum(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()[:8]


def encode_token(query_fp: str, after: list[Any]) -> str:
    """The token for the page that starts after the row whose sort key is `after`."""
    body = json.dumps({"v": _VERSION, "q": query_fp, "a": after}, separators=(",", ":"), default=str)
    raw = f"{_checksum(body)}.{body}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, query_fp: str) -> list[Any] | None:
    """The sort key after which the page starts (None for the first page)."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        check, _, body = raw.partition(".")
        doc = json.loads(body)
        ok = check == _checksum(body) and doc.get("v") == _VERSION and isinstance(doc.get("a"), list)
    except (ValueError, binascii.Error, UnicodeDecodeError, AttributeError):
        ok = False
    if not ok:
        raise InvalidInput("page_token is malformed (pass next_page_token of the previous page unchanged)")
    if doc["q"] != query_fp:
        raise InvalidInput(
            "page_token belongs to another query (the filters must stay the same from page to page; "
            "start again without a token)"
        )
    return list(doc["a"])
