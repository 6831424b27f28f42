"""Parsing HTML once, and the text of elements with their line structure kept (pure)."""

from __future__ import annotations

import html as htmllib
import re
from typing import Any

from lxml import etree
from lxml import html as lxml_html

# The parser trafilatura uses (it accepts our tree as it is, and copies it before cleaning).
PARSER = lxml_html.HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True)

BLOCK = {
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "br",
    "tr",
    "td",
    "th",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "section",
    "article",
    "header",
    "footer",
    "blockquote",
    "pre",
    "dd",
    "dt",
    "table",
    "figure",
    "figcaption",
}
SKIP = {"script", "style", "noscript", "template", "svg", "button", "select", "option", "input"}
# Runs of white space become one space; a lone space is left as it is (the same result, and
# ordinary text has one between every two words: replacing each would cost a match apiece).
_WS = re.compile(r"[ \t\r\f\v\u00a0\u200b\u200c\u200d\ufeff]{2,}|[\t\r\f\v\u00a0\u200b\u200c\u200d\ufeff]")


def parse(html: str) -> Any:
    """The document tree (always from UTF-8 bytes: a <meta charset> cannot re-decode it), or None."""
    if not html.strip():
        return None
    try:
        return lxml_html.fromstring(html.encode("utf-8", "replace"), parser=PARSER)
    except (etree.ParserError, ValueError):
        return None


def clean_line(s: str) -> str:
    return _WS.sub(" ", htmllib.unescape(s)).strip()


def lines(el: Any) -> list[str]:
    """The element's text as lines: a line break at every block element and <br>."""
    parts: list[str] = []

    def walk(e: Any) -> None:
        tag = e.tag if isinstance(e.tag, str) else ""
        if tag in SKIP:
            if e.tail:
                parts.append(e.tail)
            return
        block = tag in BLOCK
        if block:
            parts.append("\n")
        if e.text and tag:
            parts.append(e.text)
        for child in e:
            walk(child)
        if block:
            parts.append("\n")
        if e.tail:
            parts.append(e.tail)

    tail = el.tail
    el.tail = None
    try:
        walk(el)
    finally:
        el.tail = tail
    return [c for c in (clean_line(x) for x in "".join(parts).split("\n") if x and not x.isspace()) if c]


def text(el: Any) -> str:
    """The element's text on one line."""
    return " ".join(lines(el))


def fallback_text(doc: Any) -> str:
    """The page's readable text when trafilatura finds none: paragraphs, list items, headings."""
    if doc is None:
        return ""
    skip = {"nav", "footer", "header", "aside", "form"}
    out = []
    for el in doc.iter("p", "li", "h1", "h2", "h3", "h4", "pre", "td", "blockquote"):
        if any(isinstance(a.tag, str) and a.tag in skip | SKIP for a in el.iterancestors()):
            continue
        if el.tag == "li" and el.find(".//li") is not None:
            continue
        t = text(el)
        if t:
            out.append(t)
    if not out:
        body = doc.find(".//body")
        out = lines(body if body is not None else doc)
    return "\n".join(out)
