"""OCR: the text of images (PNG, JPEG, WebP, TIFF) and of PDF pages that have no text layer.

Two engines behind one small interface (ocr_engines.py): `rapidocr`, the default (RapidOCR
on ONNX Runtime, its models inside the wheel: no network), and `tesseract` (the
`tesseract` program, used when it is installed and DISTILL_PARSER_OCR_ENGINE=tesseract).
ocr_extract.py connects a job to extract.py's handlers.

Limits (DISTILL_PARSER_OCR_*), so that a hostile file costs bounded time and memory:
- pixels per image or page, read from the header before anything is decoded (a
  decompression bomb is refused, never decoded; a PDF page whose images are too large is
  skipped, and pages are rendered at a resolution that fits);
- pages per file (TIFF frames, PDF pages needing OCR): the rest are left out;
- seconds per file: no page is started after the time is up.

An `OcrJob` reads one file, reports each page (the stage turns that into phase progress)
and says afterwards how far it got and why it stopped (`summary()`, `note()`).
"""

from __future__ import annotations

import io
import re
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from distill_core.errors import PermanentError, TimeoutFailure
from PIL import Image, ImageOps

from distill_parser.ocr_extract import OcrLimits

_PIL_FORMATS = ["PNG", "JPEG", "WEBP", "TIFF"]  # nothing else is opened (no EPS through Ghostscript, say)
_PDFIUM = threading.Lock()  # PDFium is not thread-safe


class Engine(Protocol):
    name: str

    def read(self, image: Image.Image, timeout: float) -> str:
        """The text of one RGB image: lines in reading order, words separated by spaces."""
        ...


def sniff_image(body: bytes) -> str | None:
    """The image type of `body` from its first bytes (what the sender said does not count)."""
    if body.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if body.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if body[:4] == b"RIFF" and body[8:12] == b"WEBP":
        return "image/webp"
    if body[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    return None


def too_large(what: str, width: int, height: int, limit: int) -> PermanentError:
    return PermanentError(
        f"{what} is {width}×{height} pixels ({width * height / 1e6:.1f} MP); the OCR limit is "
        f"{limit / 1e6:g} MP (DISTILL_PARSER_OCR_MAX_PIXELS)",
        code="IMAGE_TOO_LARGE",
    )


def unreadable(what: str, e: BaseException) -> PermanentError:
    detail = str(e).strip() or type(e).__name__
    return PermanentError(f"{what} could not be read: {detail[:200]}", code="UNREADABLE_FILE")


def render_scale(width_pt: float, height_pt: float, image_pixels: int, dpi: int, max_pixels: int) -> float:
    """Pixels per point to render a PDF page at for OCR.

    A scanned page is one image: rendered at that image's own resolution, no resampling
    blurs it (resampling costs RapidOCR most of a small-print page's words). A page without
    images (text drawn as shapes) is rendered at `dpi`. Either is lowered to fit `max_pixels`.
    """
    area = max(width_pt * height_pt, 1.0)
    scale = max((image_pixels / area) ** 0.5, 1.0) if image_pixels > 0 else dpi / 72.0
    if area * scale * scale > max_pixels > 0:
        scale = (max_pixels / area) ** 0.5
    return scale


def is_blank(image: Image.Image, spread: int = 24) -> bool:
    """Whether an image is one flat tone (a blank page): no OCR needed to know it has no text."""
    small = image.convert("L")
    small.thumbnail((256, 256))
    low, high = small.getextrema()  # type: ignore[misc]
    return bool(high - low < spread)


def largest_image_pixels(page: Any, depth: int = 0) -> int:
    """Width × height of the largest image a pypdf page (or form) draws, from the image
    dictionaries alone (/Width, /Height: nothing is decoded); 0 when it has none."""
    try:
        xobjects = page["/Resources"]["/XObject"].get_object()
    except (KeyError, TypeError, AttributeError):
        return 0
    best = 0
    for ref in xobjects.values():
        try:
            obj = ref.get_object()
            if obj.get("/Subtype") == "/Image":
                best = max(best, int(obj.get("/Width", 0)) * int(obj.get("/Height", 0)))
            elif obj.get("/Subtype") == "/Form" and depth < 3:
                best = max(best, largest_image_pixels(obj, depth + 1))
        except Exception:  # a broken entry: that image is not rendered either
            continue
    return best


@dataclass
class OcrJob:
    """The OCR of one file: `image_text()` for an image, `fill_pdf()` for a PDF's pages without text."""

    engine: Engine
    limits: OcrLimits
    on_page: Callable[[int, int], None] | None = None
    started: float = field(default_factory=time.monotonic)
    pages_read: int = 0
    pages_wanted: int = 0
    skipped: list[str] = field(default_factory=list)
    stopped: str | None = None
    seconds: float = 0.0

    # --- images --------------------------------------------------------------------------

    def image_text(self, body: bytes) -> str:
        """Every frame of an image (a multi-page TIFF has several), within the limits."""
        im = self._open(body)
        frames = getattr(im, "n_frames", 1) if im.format == "TIFF" else 1
        self.pages_wanted = frames
        texts = []
        for n in range(frames):
            if not self._may_start(n):
                break
            texts.append(self._read(self._frame(im, n, frames)))
            self._page_done(n + 1, frames)
        return "\n\n".join(t for t in texts if t.strip())

    def _open(self, body: bytes) -> Image.Image:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                im = Image.open(io.BytesIO(body), formats=_PIL_FORMATS)
            except Image.DecompressionBombError as e:  # Pillow's own bound, far above ours: still from the header
                px = re.search(r"\((\d+) pixels\)", str(e))
                size = f"{int(px.group(1)) / 1e6:.0f} MP" if px else "too large"
                raise PermanentError(
                    f"the image is {size}; the OCR limit is {self.limits.max_pixels / 1e6:g} MP "
                    "(DISTILL_PARSER_OCR_MAX_PIXELS)",
                    code="IMAGE_TOO_LARGE",
                ) from None
            except Image.UnidentifiedImageError:
                raise PermanentError(
                    "the image could not be read: it is not a PNG, JPEG, WebP or TIFF image, or its header is damaged",
                    code="UNREADABLE_FILE",
                ) from None
            except Exception as e:  # a broken header
                raise unreadable("the image", e) from None
        self._check(im, "the image")
        return im

    def _check(self, im: Image.Image, what: str) -> None:
        w, h = im.size
        if w * h > self.limits.max_pixels:
            raise too_large(what, w, h, self.limits.max_pixels)

    def _frame(self, im: Image.Image, n: int, frames: int) -> Image.Image:
        """Frame n as RGB, upright; its size is checked (from its header) before it is decoded."""
        what = "the image" if frames == 1 else f"page {n + 1} of the image"
        try:
            if frames > 1:
                im.seek(n)  # reads that frame's header only
                self._check(im, what)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im.load()
                return ImageOps.exif_transpose(im).convert("RGB")
        except PermanentError:
            raise
        except Exception as e:  # truncated data, a bad frame
            raise unreadable(what, e) from None

    # --- PDF pages -----------------------------------------------------------------------

    def fill_pdf(self, body: bytes, texts: list[str], image_pixels: Callable[[int], int]) -> list[str]:
        """`texts` (one per page, from the text layer) with the empty pages read by OCR.

        image_pixels(i): the pixel count of the largest image on page i, from the PDF's own
        dictionaries (nothing decoded): a page with an image over the limit is skipped.
        """
        blank = [i for i, t in enumerate(texts) if not t.strip()]
        if not blank:
            return texts
        import pypdfium2 as pdfium

        self.pages_wanted = len(blank)
        out = list(texts)
        try:
            with _PDFIUM:
                doc = pdfium.PdfDocument(body)
        except Exception as e:
            raise unreadable("the PDF", e) from None
        try:
            for n, i in enumerate(blank):
                if not self._may_start(n):
                    break
                px = image_pixels(i)
                if px > self.limits.max_pixels:
                    self.skipped.append(f"page {i + 1}: an image of {px / 1e6:.0f} MP")
                    continue
                image = self._render(doc, i, px)
                if image is not None:
                    out[i] = self._read(image)
                self._page_done(n + 1, len(blank))
        finally:
            with _PDFIUM:
                doc.close()
        return out

    def _render(self, doc: Any, i: int, image_pixels: int) -> Image.Image | None:
        try:
            with _PDFIUM:
                page = doc[i]
                w, h = page.get_size()
                scale = render_scale(w, h, image_pixels, self.limits.dpi, self.limits.max_pixels)
                image = page.render(scale=scale).to_pil().convert("RGB")
                page.close()
            return image
        except Exception as e:
            self.skipped.append(f"page {i + 1}: not rendered ({str(e)[:80] or type(e).__name__})")
            return None

    # --- shared --------------------------------------------------------------------------

    def _may_start(self, n: int) -> bool:
        """Whether page n (0-based, among those needing OCR) may be read; if not, say why."""
        if n >= self.limits.max_pages:
            self.stopped = f"page limit: {self.limits.max_pages} (DISTILL_PARSER_OCR_MAX_PAGES)"
            return False
        if time.monotonic() - self.started >= self.limits.time_limit:
            self.stopped = f"time limit: {self.limits.time_limit:g} s (DISTILL_PARSER_OCR_TIME_LIMIT)"
            return False
        return True

    def _read(self, image: Image.Image) -> str:
        t = time.monotonic()
        if is_blank(image):  # an empty page (or a bomb of them) costs no OCR
            self.pages_read += 1
            return ""
        left = max(1.0, self.limits.time_limit - (t - self.started))
        try:
            text = self.engine.read(image, left)
        except TimeoutFailure:  # the engine ran into the time limit (Tesseract is stopped there)
            self.stopped = f"time limit: {self.limits.time_limit:g} s (DISTILL_PARSER_OCR_TIME_LIMIT)"
            text = ""
        self.seconds += time.monotonic() - t
        self.pages_read += 1
        return text

    def _page_done(self, done: int, total: int) -> None:
        if self.on_page is not None:
            self.on_page(done, total)

    def summary(self) -> dict[str, Any]:
        """What OCR did, stored with the parsed content (structured data `ocr`)."""
        out: dict[str, Any] = {
            "engine": self.engine.name,
            "pages_read": self.pages_read,
            "pages_wanted": self.pages_wanted,
            "seconds": round(self.seconds, 2),
        }
        if self.stopped:
            out["stopped"] = self.stopped
        if self.skipped:
            out["skipped"] = self.skipped[:20]
        return out

    def note(self) -> str:
        """One line for the phase message, e.g. 'OCR 3 pages (1.2 s/page)'."""
        if not self.pages_read and not self.skipped and not self.stopped:
            return ""
        per = f", {self.seconds / self.pages_read:.1f} s/page" if self.pages_read else ""
        text = f"OCR {self.pages_read} of {self.pages_wanted} page(s){per}"
        if self.stopped:
            text += f"; stopped at the {self.stopped.split(':')[0]}"
        if self.skipped:
            text += f"; {len(self.skipped)} skipped"
        return text
