"""Turning fetched bytes into text, metadata and structured data (pure, CPU-bound)."""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from distill_core.errors import PermanentError, UnsupportedContent

from distill_parser import recipes, structured
from distill_parser.charset import decode_html, decode_text

HTML_TYPES = {"text/html", "application/xhtml+xml", "application/xml", "text/xml"}
TEXT_TYPES = {"text/plain", "text/markdown", "text/x-markdown"}
PDF_TYPES = {"application/pdf", "application/x-pdf"}


@dataclass
class Extracted:
    text: str = ""
    title: str | None = None
    byline: str | None = None
    site_name: str | None = None
    description: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    canonical_url: str | None = None
    thumbnail_url: str | None = None
    structured: dict[str, Any] = field(default_factory=dict)
    recipe: dict[str, Any] | None = None
    content_type: str = ""

    @property
    def word_count(self) -> int:
        return len(self.text.split())

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def no_content(self) -> bool:
        return not self.text.strip() and self.recipe is None


def sniff_type(content_type: str, body: bytes, url: str) -> str:
    """The content type to treat the body as (the header, corrected by the first bytes)."""
    head = body[:1024].lstrip().lower()
    if body[:5] == b"%PDF-":
        return "application/pdf"
    if content_type in HTML_TYPES | TEXT_TYPES | PDF_TYPES:
        if content_type in HTML_TYPES | TEXT_TYPES and _looks_binary(body):
            return "application/octet-stream"
        return content_type
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "text/html"
    if not content_type and not _looks_binary(body):
        return "text/markdown" if url.lower().endswith((".md", ".markdown")) else "text/plain"
    return content_type or "application/octet-stream"


def _looks_binary(body: bytes) -> bool:
    sample = body[:4096]
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    control = sum(1 for b in sample if b < 9 or 13 < b < 32)
    return control / len(sample) > 0.1


def extract(body: bytes, content_type: str, url: str, charset: str | None = None) -> Extracted:
    kind = sniff_type(content_type, body, url)
    if kind in HTML_TYPES:
        return extract_html(decode_html(body, charset), url)
    if kind in TEXT_TYPES:
        return extract_text(decode_text(body, charset), kind)
    if kind in PDF_TYPES:
        return extract_pdf(body)
    raise UnsupportedContent(f"content type {kind or 'unknown'!r} is not supported", content_type=kind)


def extract_text(text: str, content_type: str = "text/plain") -> Extracted:
    text = text.replace("\r\n", "\n").strip()
    first = next((ln.strip().lstrip("#").strip() for ln in text.splitlines() if ln.strip()), "")
    return Extracted(text=text, title=first[:200] or None, content_type=content_type)


def extract_pdf(body: bytes) -> Extracted:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(body))
        pages = [p.extract_text() or "" for p in reader.pages[:500]]
        meta = reader.metadata or {}
    except Exception as e:
        raise PermanentError(f"the PDF could not be read: {e}", code="UNREADABLE_FILE") from None
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    title = (getattr(meta, "title", None) or "").strip() or None
    if not title and text:
        title = text.strip().splitlines()[0][:200]
    return Extracted(
        text=text, title=title, byline=(getattr(meta, "author", None) or None), content_type="application/pdf"
    )


_WS = re.compile(r"[ \t]+")


def extract_html(html: str, url: str) -> Extracted:
    import trafilatura

    meta = structured.page_metadata(html, url)
    objects = structured.json_ld(html) + structured.microdata(html)
    recipe = recipes.find_recipe(objects)
    doc = None
    try:
        doc = trafilatura.bare_extraction(
            html, url=url, with_metadata=True, include_comments=False, include_tables=True, favor_recall=True
        )
    except Exception:
        doc = None
    d: dict[str, Any] = doc.as_dict() if doc is not None and hasattr(doc, "as_dict") else (doc or {})
    text = (d.get("text") or "").strip()
    if not text:
        text = structured.fallback_text(html)
    text = "\n".join(_WS.sub(" ", ln).strip() for ln in text.splitlines()).strip()
    title = (recipe or {}).get("title") or meta.get("title") or d.get("title")
    published = structured.parse_date(meta.get("published") or d.get("date"))
    return Extracted(
        text=text,
        title=(title or "").strip() or None,
        byline=meta.get("author") or d.get("author"),
        site_name=meta.get("site_name") or d.get("sitename"),
        description=meta.get("description") or d.get("description"),
        published_at=published,
        language=meta.get("language") or d.get("language"),
        canonical_url=meta.get("canonical") or url,
        thumbnail_url=(recipe or {}).get("image") or meta.get("image") or d.get("image"),
        structured={"objects": objects[:20], "opengraph": meta.get("opengraph", {})},
        recipe=recipe,
        content_type="text/html",
    )
