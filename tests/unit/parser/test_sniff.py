"""What a body is, whatever the server says, and how each kind is read."""

from __future__ import annotations

import gzip
import random

import pytest
from distill_core.errors import UnsupportedContent
from distill_parser.extract import HANDLERS, extract, sniff_type

HTML = b"<!doctype html><html><head><title>T</title></head><body><p>Hello there, reader.</p></body></html>"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def _pdf(text: str = "Harbour report", title: str = "Storm report") -> bytes:
    """A one-page PDF with `text` on it and a title and author, written out by hand."""
    content = f"BT /F1 12 Tf 20 250 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Title ({title}) /Author (Ingrid Solberg) >>".encode(),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


@pytest.mark.parametrize(
    ("ctype", "body", "url", "kind"),
    [
        ("text/html", HTML, "https://x/", "text/html"),
        ("application/octet-stream", HTML, "https://x/", "text/html"),  # a server that does not know
        ("", b"\xef\xbb\xbf<!DOCTYPE html><html><body>x</body></html>", "https://x/", "text/html"),
        ("text/html", b"%PDF-1.7\n...", "https://x/doc.html", "application/pdf"),  # a PDF served as HTML
        ("text/html", PNG, "https://x/pic.html", "image/png"),
        ("text/html", random.Random(1).randbytes(4000), "https://x/a.html", "application/octet-stream"),
        ("text/html", gzip.compress(HTML), "https://x/", "application/gzip"),
        ("", b"# Title\n\nSome *markdown*.", "https://x/README.md", "text/markdown"),
        ("", b"just some words", "https://x/notes", "text/plain"),
        ("text/plain", b"plain", "https://x/", "text/plain"),
        ("application/json", b'{"a": 1}', "https://x/", "application/json"),
    ],
)
def test_sniffing(ctype: str, body: bytes, url: str, kind: str) -> None:
    assert sniff_type(ctype, body, url) == kind


@pytest.mark.parametrize(
    ("ctype", "body", "says"),
    [
        ("text/html", random.Random(2).randbytes(4000), "application/octet-stream (served as text/html)"),
        ("application/json", b'{"a": 1}', "application/json, which the parser does not read"),
        ("application/zip", b"PK\x03\x04" + bytes(100), "application/zip"),
    ],
)
def test_what_cannot_be_read_is_unsupported_content(ctype: str, body: bytes, says: str) -> None:
    assert sniff_type(ctype, body, "https://x/") not in HANDLERS
    with pytest.raises(UnsupportedContent) as e:
        extract(body, ctype, "https://x/file.html")
    assert e.value.code == "UNSUPPORTED_CONTENT" and not e.value.retryable and says in e.value.message


def test_an_empty_body_is_a_result_with_no_content() -> None:
    for body in (b"", b"  \n\t "):
        ex = extract(body, "text/html", "https://x/")
        assert ex.no_content and ex.text == "" and ex.word_count == 0


def test_plain_text_and_markdown() -> None:
    ex = extract(b"# Field notes\r\n\r\nThe garden opened in May.", "text/markdown", "https://x/notes.md")
    assert (ex.title, ex.content_type) == ("Field notes", "text/markdown")
    assert "The garden opened in May." in ex.text and "\r" not in ex.text
    ex = extract("Grüße aus Köln".encode("cp1252"), "text/plain", "https://x/", charset="windows-1252")
    assert ex.text == "Grüße aus Köln" and ex.content_type == "text/plain"


def test_pdf_text_and_metadata() -> None:
    ex = extract(_pdf(), "application/pdf", "https://x/report.pdf")
    assert "Harbour report" in ex.text
    assert (ex.title, ex.byline, ex.content_type) == ("Storm report", "Ingrid Solberg", "application/pdf")
    assert ex.structured["pdf"]["pages"] == 1


def test_a_broken_pdf_is_unreadable_file() -> None:
    with pytest.raises(Exception) as e:
        extract(b"%PDF-1.4\n" + b"garbage" * 100, "application/pdf", "https://x/broken.pdf")
    assert getattr(e.value, "code", None) == "UNREADABLE_FILE" and "PDF could not be read" in str(e.value)
