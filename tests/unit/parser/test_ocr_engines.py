"""Choosing and checking the OCR engine at start-up, and Tesseract reading rendered text.

RapidOCR, the default, is exercised end to end in tests/integration/test_uploads_ocr.py.
Tesseract is optional (Debian: tesseract-ocr): its tests run where it is installed.
"""

from __future__ import annotations

import shutil

import pytest
from distill_parser.ocr import OcrJob, OcrLimits
from distill_parser.ocr_engines import TesseractEngine, make_engine

from tests.integration.upload_samples import STYLES, TEXTS, encoded, found_share, text_image

needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="Tesseract is not installed (apt-get install tesseract-ocr)"
)


def test_bad_engine_settings_stop_the_parser_saying_which_and_what_to_do() -> None:
    with pytest.raises(ValueError, match="DISTILL_PARSER_OCR_ENGINE must be rapidocr, tesseract or off"):
        make_engine("easyocr", ["en"])
    with pytest.raises(ValueError, match="DISTILL_PARSER_OCR_LANGUAGES is empty"):
        make_engine("rapidocr", [])
    with pytest.raises(ValueError) as e:
        make_engine("rapidocr", ["en", "de"])
    assert "reads en, zh, not de" in str(e.value) and "DISTILL_PARSER_OCR_ENGINE=tesseract" in str(e.value)
    with pytest.raises(ValueError, match="apt-get install tesseract-ocr"):
        TesseractEngine(["en"], program="tesseract-that-is-not-installed")
    assert make_engine("off", ["en"]) is None


@needs_tesseract
def test_tesseract_names_the_language_data_it_lacks() -> None:
    with pytest.raises(ValueError) as e:
        TesseractEngine(["en", "xx_not_a_language"])
    assert "no data for xx_not_a_language" in str(e.value) and "tesseract-ocr-xx-not-a-language" in str(e.value)


@needs_tesseract
def test_tesseract_reads_rendered_text_in_several_fonts() -> None:
    engine = make_engine("tesseract", ["en"])
    assert engine is not None
    for text, (font, size) in zip(TEXTS, STYLES, strict=True):
        job = OcrJob(engine, OcrLimits())
        got = job.image_text(encoded(text_image(text, font, size), "PNG"))
        assert found_share(text, got) >= 0.9, (font, size, got)
        assert job.summary()["engine"] == "tesseract" and job.pages_read == 1
