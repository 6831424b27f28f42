"""OCR's pure parts and its limits (distill_parser.ocr, ocr_engines): what is sniffed, how pages
are sized, in which order text comes out, and where a job stops. The engine here is a
recorder that says which page it was given (the real engines run in test_ocr_engines.py
and tests/integration/test_uploads_ocr.py)."""

from __future__ import annotations

import io
import time

import pytest
from distill_core.errors import PermanentError
from distill_parser.ocr import OcrJob, OcrLimits, is_blank, largest_image_pixels, render_scale, sniff_image
from distill_parser.ocr_engines import line_image, line_scale, reading_order, tesseract_languages
from PIL import Image, ImageDraw
from pypdf import PdfReader

from tests.integration.upload_samples import (
    blank_png,
    corrupt_png,
    encoded,
    huge_image_pdf,
    image_pdf,
    png_header_claiming,
)


class Recorder:
    """An engine that reads each image as its size, and may take its time."""

    name = "recorder"

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.seen: list[tuple[int, int]] = []

    def read(self, image: Image.Image, timeout: float) -> str:
        time.sleep(self.delay)
        self.seen.append(image.size)
        return f"page {image.width}x{image.height}"


def page(size: tuple[int, int]) -> Image.Image:
    """A page with something on it (a blank one is never given to the engine)."""
    img = Image.new("L", size, 255)
    ImageDraw.Draw(img).rectangle((2, 2, size[0] // 2, size[1] // 2), fill=0)
    return img


def tiff(sizes: list[tuple[int, int]]) -> bytes:
    frames = [page(s) for s in sizes]
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:])
    return out.getvalue()


def test_image_types_come_from_the_bytes() -> None:
    img = Image.new("RGB", (8, 8), "white")
    assert [sniff_image(encoded(img, f)) for f in ("PNG", "JPEG", "WEBP", "TIFF")] == [
        "image/png",
        "image/jpeg",
        "image/webp",
        "image/tiff",
    ]
    assert sniff_image(encoded(img, "GIF")) is None and sniff_image(b"%PDF-1.7") is None


def test_scanned_pages_are_rendered_at_their_own_resolution_and_within_the_limit() -> None:
    # A letter page (612 x 792 pt) holding one 1700 x 2200 scan: rendered at the scan's 200 dpi.
    assert render_scale(612, 792, 1700 * 2200, dpi=150, max_pixels=40_000_000) == pytest.approx(1700 / 612, rel=0.01)
    # No image (text drawn as shapes): the configured resolution.
    assert render_scale(612, 792, 0, dpi=150, max_pixels=40_000_000) == pytest.approx(150 / 72)
    # A page of 200 x 200 inches fits the pixel limit instead of taking 1.6 billion pixels.
    s = render_scale(14_400, 14_400, 0, dpi=200, max_pixels=20_000_000)
    assert (14_400 * s) ** 2 == pytest.approx(20_000_000, rel=0.01)


def test_small_print_is_enlarged_before_it_is_read() -> None:
    assert line_scale([]) == 1.0
    assert line_scale([20, 22, 18]) == pytest.approx(60 / 20)  # small print: x3
    assert line_scale([10]) == 4.0  # at most x4
    assert line_scale([55, 62, 66]) == 1.0  # about right: read as it is
    assert line_scale([240]) == 1.0  # large print: the recogniser shrinks it anyway


def test_a_slanted_line_is_cut_out_upright_and_enlarged() -> None:
    img = Image.new("RGB", (400, 200), "white")
    ImageDraw.Draw(img).polygon([(50, 60), (250, 50), (252, 90), (52, 100)], fill="black")
    line = line_image(img, [[50, 60], [250, 50], [252, 90], [52, 100]], 2.0)
    h, w = line.shape[:2]
    assert (w, h) == pytest.approx((400, 80), abs=4)  # the line's own length and height, doubled
    assert line.mean() < 40  # upright: the black band fills the cut-out
    tall = line_image(img, [[10, 10], [30, 10], [30, 150], [10, 150]], 1.0)
    assert tall.shape[1] > tall.shape[0]  # a vertical line is turned to read left to right


def test_text_comes_out_in_rows_even_word_by_word_and_slightly_rotated() -> None:
    def box(x: float, y: float, w: float = 40, h: float = 20, tilt: float = 0.0) -> list[list[float]]:
        return [[x, y], [x + w, y + tilt], [x + w, y + h + tilt], [x, y + h]]

    found = [
        (box(120, 52, tilt=2), "gloves"),
        (box(10, 10, tilt=1), "the"),
        (box(60, 50, tilt=2), "bring"),
        (box(110, 12, tilt=1), "opens"),
        (box(60, 11, tilt=1), "gate"),
        (box(10, 49, tilt=2), "and"),
        (box(200, 200), "  "),
    ]
    assert reading_order(found) == "the gate opens\nand bring gloves"


def test_languages_are_given_to_tesseract_by_its_own_names() -> None:
    assert tesseract_languages(["en", "de", "chi_tra", "FR"]) == "eng+deu+chi_tra+fra"


def test_a_multi_page_tiff_stops_at_the_page_limit_and_reports_each_page() -> None:
    engine, pages = Recorder(), []
    job = OcrJob(engine, OcrLimits(max_pages=2), on_page=lambda done, total: pages.append((done, total)))
    text = job.image_text(tiff([(100, 50), (120, 60), (140, 70)]))
    assert engine.seen == [(100, 50), (120, 60)] and text == "page 100x50\n\npage 120x60"
    assert pages == [(1, 3), (2, 3)]
    assert job.summary()["stopped"].startswith("page limit: 2") and job.summary()["pages_wanted"] == 3
    assert "stopped at the page limit" in job.note()


def test_no_page_starts_after_the_time_limit() -> None:
    engine = Recorder(delay=0.3)
    job = OcrJob(engine, OcrLimits(time_limit=0.5))
    job.image_text(tiff([(50, 50)] * 6))
    assert len(engine.seen) == 2 and "time limit: 0.5 s" in job.summary()["stopped"]


def test_too_many_pixels_are_refused_from_the_header_without_decoding() -> None:
    job = OcrJob(Recorder(), OcrLimits(max_pixels=1_000_000))
    t = time.monotonic()
    for body in (png_header_claiming(60_000, 60_000), png_header_claiming(2000, 1000)):
        with pytest.raises(PermanentError) as e:
            job.image_text(body)
        assert e.value.code == "IMAGE_TOO_LARGE" and "DISTILL_PARSER_OCR_MAX_PIXELS" in e.value.message
    assert time.monotonic() - t < 1.0
    # A TIFF frame over the limit is refused when its turn comes, from its own header.
    job = OcrJob(Recorder(), OcrLimits(max_pixels=1_000_000))
    with pytest.raises(PermanentError, match="page 2 of the image is 2000×1000 pixels"):
        job.image_text(tiff([(100, 100), (2000, 1000)]))


def test_corrupt_or_foreign_images_are_unreadable() -> None:
    job = OcrJob(Recorder(), OcrLimits())
    for body in (corrupt_png(), blank_png()[:60], encoded(Image.new("RGB", (9, 9)), "GIF"), b"\x89PNG\r\n\x1a\n"):
        with pytest.raises(PermanentError) as e:
            job.image_text(body)
        assert e.value.code == "UNREADABLE_FILE" and "could not be read" in e.value.message


def test_pdf_pages_with_text_are_left_alone_and_oversized_images_skipped() -> None:
    scan = image_pdf([page((300, 200)).convert("RGB"), page((150, 100)).convert("RGB")])
    reader = PdfReader(io.BytesIO(scan))
    assert [largest_image_pixels(p) for p in reader.pages] == [300 * 200, 150 * 100]
    engine = Recorder()
    job = OcrJob(engine, OcrLimits())
    out = job.fill_pdf(scan, ["", "text layer"], lambda i: largest_image_pixels(reader.pages[i]))
    assert out[1] == "text layer" and engine.seen == [(300, 200)]  # rendered at the scan's own size
    huge = huge_image_pdf(30_000, 30_000)
    assert largest_image_pixels(PdfReader(io.BytesIO(huge)).pages[0]) == 900_000_000
    job = OcrJob(Recorder(), OcrLimits())
    assert job.fill_pdf(huge, [""], lambda i: 900_000_000) == [""]
    assert job.summary()["skipped"] == ["page 1: an image of 900 MP"] and job.pages_read == 0


def test_blank_pages_cost_no_ocr() -> None:
    assert is_blank(Image.new("RGB", (2000, 3000), (250, 250, 248)))
    assert not is_blank(page((2000, 3000)))
    engine = Recorder()
    job = OcrJob(engine, OcrLimits())
    assert job.image_text(blank_png(800, 600)) == "" and engine.seen == [] and job.pages_read == 1
