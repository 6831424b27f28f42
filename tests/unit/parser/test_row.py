"""The stored row: whatever a page holds, PostgreSQL can store it."""

from __future__ import annotations

import hashlib
import json
import uuid

from distill_parser.extracted import Extracted
from distill_parser.row import LIMITS, row_of


def test_nul_characters_surrogates_and_widths() -> None:
    ex = Extracted(
        text="Harbour\x00 news \ud800 today",
        title="T" * 5000,
        language="en-GB",
        structured={"objects": [{"name": "a\x00b", "bad\x00key": "\udfff", "n": float("nan")}]},
        recipe={"title": "Soup\x00", "ingredients": ["1 leek\x00"]},
        content_type="text/html",
    )
    row = row_of(uuid.uuid4(), "tenant", "item", "https://x/", "https://x/final", ex)
    assert "\x00" not in row["text"] and "\ud800" not in row["text"]
    assert row["content_hash"] == hashlib.sha256(row["text"].encode()).hexdigest()
    assert len(row["title"]) == LIMITS["title"]
    dumped = json.dumps([row["structured"], row["recipe"]])
    assert "\\u0000" not in dumped and "\\udfff" not in dumped and "NaN" not in dumped
    assert row["structured"]["objects"][0]["badkey"] == "?" or row["structured"]["objects"][0]["badkey"] == "\ufffd"
    assert row["recipe"] == {"title": "Soup", "ingredients": ["1 leek"]}


def test_empty_optional_fields_are_null_and_the_hash_is_of_the_text() -> None:
    row = row_of(uuid.uuid4(), "t", "i", "https://x/", "https://x/", Extracted(text="", title="  "))
    assert row["title"] is None and row["byline"] is None and row["text"] == ""
    assert row["content_hash"] == hashlib.sha256(b"").hexdigest() and row["word_count"] == 0
    assert row["no_content"] is True
