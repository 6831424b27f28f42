"""What a fetched body is: the Content-Type header, corrected by the first bytes (pure, light).

A PDF served as text/html is a PDF, a binary file named .html is binary. Only the standard
library: the parser's main process decides here which bodies go to the extraction workers
(extract_pool.py) without loading the extractors themselves.
"""

from __future__ import annotations

HTML_TYPES = {"text/html", "application/xhtml+xml", "application/xml", "text/xml"}
TEXT_TYPES = {"text/plain", "text/markdown", "text/x-markdown"}
PDF_TYPES = {"application/pdf", "application/x-pdf"}
IMAGE_TYPES = {"image/png", "image/jpeg", "image/webp", "image/tiff"}
#: What extract.py has a reader for (its HANDLERS keys).
READABLE = HTML_TYPES | TEXT_TYPES | PDF_TYPES | IMAGE_TYPES

# First bytes of common binary formats: named in the error instead of a vague "binary".
MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"RIFF", "application/x-riff"),  # WebP, WAV, AVI: refined below
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"\x7fELF", "application/x-executable"),
    (b"OggS", "audio/ogg"),
    (b"\x00\x00\x00", "application/octet-stream"),
)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_HTML_START = (b"<!doctype html", b"<html", b"<head", b"<body", b"<meta", b"<title", b"<?xml", b"<!--")


def _magic(body: bytes) -> str | None:
    if body[:4] == b"RIFF" and body[8:12] == b"WEBP":
        return "image/webp"
    if body[4:8] == b"ftyp":
        return "video/mp4"
    return next((t for m, t in MAGIC if body.startswith(m)), None)


_BINARY_BYTES = frozenset([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])  # WHATWG
_TEXT_BYTES = bytes(b for b in range(256) if b not in _BINARY_BYTES)  # deleted by translate: binary ones stay


def looks_binary(body: bytes) -> bool:
    """More than 1% of the first 4 kB are bytes text never holds (a stray NUL in a page is not enough)."""
    sample = body[:4096]
    if not sample or sample.startswith(_BOMS):
        return False
    return len(sample.translate(None, _TEXT_BYTES)) > len(sample) / 100


def sniff_type(content_type: str, body: bytes, url: str) -> str:
    """The content type to treat the body as (the header, corrected by the first bytes)."""
    if b"%PDF-" in body[:1024]:
        return "application/pdf"
    magic = _magic(body)
    if magic is not None and not body.startswith(_BOMS):
        return magic
    if content_type in HTML_TYPES | TEXT_TYPES and looks_binary(body):
        return "application/octet-stream"
    if content_type in READABLE:
        return content_type
    head = body[:1024].lstrip(b" \t\r\n\xef\xbb\xbf").lower()
    if (head.startswith(_HTML_START) and b"<html" in body[:4096].lower()) or head.startswith(b"<!doctype html"):
        return "text/html"
    if content_type in ("", "application/octet-stream", "binary/octet-stream") and not looks_binary(body):
        return "text/markdown" if url.lower().split("?")[0].endswith((".md", ".markdown")) else "text/plain"
    return content_type or "application/octet-stream"
