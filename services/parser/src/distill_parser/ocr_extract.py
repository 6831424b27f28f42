"""OCR as the parse stage uses it: one `Ocr` per parser (engine and limits from its settings),
one `OcrJob` per file, and the extract.py handlers that find the job of the file being
extracted (`with_job` sets it for the thread doing the extraction).

ocr.py (Pillow) and the engine are imported when a file needs them, not with this module:
the parser's main process and its extraction workers, which read web pages, never load them.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from distill_core.errors import UnsupportedContent

from distill_parser.extracted import Extracted

if TYPE_CHECKING:
    from distill_parser.ocr import OcrJob
    from distill_parser.settings import ParserSettings

T = TypeVar("T")


@dataclass(frozen=True)
class OcrLimits:
    max_pixels: int = 40_000_000
    max_pages: int = 50
    time_limit: float = 45.0
    dpi: int = 200


# The OCR job of the file being extracted in this thread (set by `with_job`): extract.py's
# handlers are plain functions of the bytes, so the job travels beside them.
_job: ContextVar[OcrJob | None] = ContextVar("ocr_job", default=None)


class Ocr:
    """The engine and limits of this parser (from its settings), making one OcrJob per file."""

    def __init__(self, settings: ParserSettings) -> None:
        from distill_parser.ocr_engines import make_engine

        self.engine = make_engine(
            settings.parser_ocr_engine, settings.parser_ocr_languages, settings.parser_ocr_threads
        )
        self.limits = OcrLimits(
            max_pixels=settings.parser_ocr_max_pixels,
            max_pages=settings.parser_ocr_max_pages,
            time_limit=settings.parser_ocr_time_limit,
            dpi=settings.parser_ocr_dpi,
        )

    def job(self, on_page: Callable[[int, int], None] | None = None) -> OcrJob | None:
        from distill_parser.ocr import OcrJob

        return OcrJob(self.engine, self.limits, on_page) if self.engine is not None else None


def with_job(job: OcrJob | None, fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) with `job` as the OCR of whatever it extracts (in an executor thread)."""
    token = _job.set(job)
    try:
        return fn(*args)
    finally:
        _job.reset(token)


def extract_image(body: bytes, url: str = "", charset: str | None = None) -> Extracted:
    """extract.py's handler for PNG, JPEG, WebP and TIFF: the text OCR finds (none: no content)."""
    from distill_parser.ocr import sniff_image

    job = _job.get()
    if job is None:
        raise UnsupportedContent(
            "the file is an image, and OCR is off (DISTILL_PARSER_OCR_ENGINE=off)", content_type=sniff_image(body)
        )
    text = job.image_text(body)
    return Extracted(text=text, content_type=sniff_image(body) or "image")


def fill_pdf_pages(body: bytes, reader: Any, pages: list[str]) -> list[str]:
    """extract.py's PDF reader: pages without a text layer read by OCR (as they are without a job)."""
    from distill_parser.ocr import largest_image_pixels

    job = _job.get()
    if job is None:
        return pages
    return job.fill_pdf(body, pages, lambda i: largest_image_pixels(reader.pages[i]))
