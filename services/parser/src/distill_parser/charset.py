"""Choosing the text encoding: byte-order mark, the Content-Type header, then (HTML) the
<meta> or XML declaration, then strict UTF-8, then detection (charset-normalizer).

Labels follow the WHATWG Encoding Standard where it differs from Python's codecs:
ISO-8859-1, Latin-1 and ASCII mean windows-1252, and a <meta> that claims UTF-16 in an
ASCII-compatible document means UTF-8.
"""

from __future__ import annotations

import codecs
import re

_META = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_WHATWG = {"latin-1": "cp1252", "iso8859-1": "cp1252", "ascii": "cp1252", "iso8859-9": "cp1254", "tis-620": "cp874"}
META_WINDOW = 16 * 1024
DETECT_WINDOW = 64 * 1024


def label(name: str | None) -> str | None:
    """The Python codec for an encoding label, or None when there is no such encoding."""
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None
    return _WHATWG.get(codec, codec)


def detect(body: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(body[:DETECT_WINDOW]).best()
    return label(best.encoding) or "utf-8" if best is not None else "utf-8"


def declared_in_document(body: bytes) -> str | None:
    """The encoding an HTML/XML document declares for itself in its first bytes."""
    head = body[:META_WINDOW]
    m = _XML_DECL.match(head) or _META.search(head)
    enc = label(m.group(1).decode("ascii", "ignore")) if m else None
    if enc is not None and enc.startswith("utf-16"):
        return "utf-8"  # we are reading it as ASCII-compatible bytes: the document is not UTF-16
    return enc


def choose(body: bytes, header_charset: str | None, *, html: bool) -> tuple[str, int]:
    """(codec, bytes of BOM to skip)."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name, len(bom)
    enc = label(header_charset) or (declared_in_document(body) if html else None)
    if enc is not None and enc != "utf-8":
        return enc, 0
    try:
        body.decode("utf-8")
        return "utf-8", 0
    except UnicodeDecodeError as e:
        # A declared UTF-8 that is broken only in its last bytes (a truncated page) stays UTF-8.
        if enc == "utf-8" and e.start >= len(body) - 4:
            return "utf-8", 0
    return detect(body), 0


def decode(body: bytes, header_charset: str | None, *, html: bool = True) -> str:
    enc, skip = choose(body, header_charset, html=html)
    return body[skip:].decode(enc, errors="replace")


def decode_html(body: bytes, header_charset: str | None) -> str:
    return decode(body, header_charset, html=True)


def decode_text(body: bytes, header_charset: str | None) -> str:
    return decode(body, header_charset, html=False)
