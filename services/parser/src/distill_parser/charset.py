"""Choosing the text encoding: header, then <meta>, then detection."""

from __future__ import annotations

import codecs
import re

_META = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_BOM = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def _valid(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


def detect(body: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(body[:200_000]).best()
    return best.encoding if best is not None else "utf-8"


def decode_html(body: bytes, header_charset: str | None) -> str:
    for bom, name in _BOM:
        if body.startswith(bom):
            return body[len(bom) :].decode(name, errors="replace")
    enc = _valid(header_charset)
    if enc is None:
        m = _META.search(body[:4096])
        enc = _valid(m.group(1).decode("ascii", "ignore")) if m else None
    if enc is None:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            enc = detect(body)
    return body.decode(enc, errors="replace")


def decode_text(body: bytes, header_charset: str | None) -> str:
    for bom, name in _BOM:
        if body.startswith(bom):
            return body[len(bom) :].decode(name, errors="replace")
    enc = _valid(header_charset)
    if enc is None:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            enc = detect(body)
    return body.decode(enc, errors="replace")
