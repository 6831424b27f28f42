"""The parsed_contents row of one item, made safe to store.

PostgreSQL refuses NUL characters in text and JSONB, lone UTF-16 surrogates cannot be
encoded, and a column has its width: one hostile page must not fail the batch its row is
written in. Every string is cleaned and bounded here (pure functions).
"""

from __future__ import annotations

import uuid
from typing import Any

from distill_core.db.models import ParsedContent
from distill_core.runner import store

from distill_parser.extracted import Extracted

# Widths: the columns' own (language, content_type) or what a reader can use.
LIMITS = {
    "title": 1000,
    "byline": 500,
    "site_name": 500,
    "description": 5000,
    "language": 32,
    "canonical_url": 8192,
    "final_url": 8192,
    "url": 8192,
    "thumbnail_url": 8192,
    "content_type": 200,
}
MAX_JSON_STRING = 20_000


def clean_str(s: str, limit: int | None = None) -> str:
    if "\x00" in s:
        s = s.replace("\x00", "")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = s.encode("utf-8", "replace").decode("utf-8")
    return s if limit is None or len(s) <= limit else s[:limit]


def clean_json(v: Any, depth: int = 0) -> Any:
    """JSON data with every string (keys too) storable; deeper than 20 levels is dropped."""
    if depth > 20:
        return None
    if isinstance(v, str):
        return clean_str(v, MAX_JSON_STRING)
    if isinstance(v, dict):
        return {clean_str(str(k), 200): clean_json(x, depth + 1) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [clean_json(x, depth + 1) for x in v]
    if v is None or isinstance(v, bool | int | float):
        return v if not isinstance(v, float) or (v == v and abs(v) != float("inf")) else None
    return clean_str(str(v), MAX_JSON_STRING)


def row_of(
    result_id: uuid.UUID, tenant_id: str, item_id: str, url: str, final_url: str, ex: Extracted
) -> dict[str, Any]:
    """The row for `ex`; the content hash and word count are of the text as stored."""
    text = clean_str(ex.text)
    stored = Extracted(text=text)
    row: dict[str, Any] = {
        "id": result_id,
        "tenant_id": tenant_id,
        "item_id": item_id,
        "url": clean_str(url, LIMITS["url"]),
        "text": text,
        "content_hash": stored.content_hash,
        "word_count": stored.word_count,
        "published_at": ex.published_at,
        "structured": clean_json(ex.structured) or {},
        "recipe": clean_json(ex.recipe),
        "no_content": ex.no_content,
    }
    optional = {
        "final_url": final_url,
        "canonical_url": ex.canonical_url,
        "title": ex.title,
        "byline": ex.byline,
        "site_name": ex.site_name,
        "description": ex.description,
        "language": ex.language,
        "thumbnail_url": ex.thumbnail_url,
        "content_type": ex.content_type,
    }
    for k, v in optional.items():
        row[k] = (clean_str(v, LIMITS[k]).strip() or None) if isinstance(v, str) else None
    return row


_COLUMNS = list(row_of(uuid.UUID(int=0), "", "", "", "", Extracted()))  # exactly what a row holds
ROWS = store.ResultRows(ParsedContent, _COLUMNS)
