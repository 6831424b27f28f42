"""Turning fetched bytes into text, metadata and structured data (pure, CPU-bound).

`sniff_type` (sniff.py) decides what the body is (the Content-Type header, corrected by the
first bytes: a PDF served as text/html is a PDF, a binary file named .html is binary), and
`HANDLERS` maps each readable type to the function that reads it. Add a type by adding an
entry (and to sniff.READABLE); anything without one is a permanent UNSUPPORTED_CONTENT.
An empty body is not an error: it is a result with no content.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC

from distill_core.errors import PermanentError, UnsupportedContent

from distill_parser import ocr_extract
from distill_parser.charset import decode
from distill_parser.extracted import Extracted
from distill_parser.html_extract import extract_html
from distill_parser.sniff import HTML_TYPES, IMAGE_TYPES, PDF_TYPES, READABLE, TEXT_TYPES, sniff_type

__all__ = [
    "HANDLERS", "HTML_TYPES", "PDF_TYPES", "READABLE", "TEXT_TYPES", "Extracted", "extract", "extract_html",
    "extract_pdf", "extract_text", "sniff_type",
]  # fmt: skip


def extract(body: bytes, content_type: str, url: str, charset: str | None = None) -> Extracted:
    if not body.strip():
        return Extracted(content_type=content_type or "")  # an empty page is a result: no content
    kind = sniff_type(content_type, body, url)
    handler = HANDLERS.get(kind)
    if handler is None:
        said = f" (served as {content_type})" if content_type and content_type != kind else ""
        raise UnsupportedContent(
            f"the page is {kind}{said}, which the parser does not read "
            "(it reads HTML, PDF, plain text, Markdown, PNG, JPEG, WebP and TIFF)",
            content_type=kind,
        )
    return handler(body, url, charset)


def _html(body: bytes, url: str, charset: str | None) -> Extracted:
    return extract_html(decode(body, charset, html=True), url)


def _text(body: bytes, url: str, charset: str | None) -> Extracted:
    kind = "text/markdown" if url.lower().split("?")[0].endswith((".md", ".markdown")) else "text/plain"
    return extract_text(decode(body, charset, html=False), kind)


def _markdown(body: bytes, url: str, charset: str | None) -> Extracted:
    return extract_text(decode(body, charset, html=False), "text/markdown")


def extract_text(text: str, content_type: str = "text/plain") -> Extracted:
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    first = next((ln.strip().lstrip("#").strip() for ln in text.splitlines() if ln.strip()), "")
    return Extracted(text=text, title=first[:200] or None, content_type=content_type)


def extract_pdf(body: bytes, url: str = "", charset: str | None = None) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(body))
        if reader.is_encrypted and reader.decrypt("") == 0:
            raise PermanentError("the PDF is encrypted with a password", code="UNREADABLE_FILE")
        pages = [p.extract_text() or "" for p in reader.pages[:500]]
        meta = reader.metadata or {}
        created = getattr(meta, "creation_date", None)
    except PermanentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError, AssertionError) as e:
        raise PermanentError(f"the PDF could not be read: {e}"[:500], code="UNREADABLE_FILE") from None
    pages = ocr_extract.fill_pdf_pages(body, reader, pages)  # pages without a text layer: OCR
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    title = (getattr(meta, "title", None) or "").strip() or None
    if not title and text:
        title = text.strip().splitlines()[0][:200]
    author = (getattr(meta, "author", None) or "").strip() or None
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return Extracted(
        text=text,
        title=title,
        byline=author,
        published_at=created,
        structured={"pdf": {"pages": len(reader.pages), "producer": getattr(meta, "producer", None) or None}},
        content_type="application/pdf",
    )


#: Content type -> reader (body, final URL, header charset). Extend here for new types.
HANDLERS: dict[str, Callable[[bytes, str, str | None], Extracted]] = {
    **{t: _html for t in HTML_TYPES},
    "text/plain": _text,
    "text/markdown": _markdown,
    "text/x-markdown": _markdown,
    **{t: extract_pdf for t in PDF_TYPES},
    **{t: ocr_extract.extract_image for t in IMAGE_TYPES},
}
