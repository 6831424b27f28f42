"""Rendering a report document as Markdown, JSON and PDF (the PDF read back with pypdf)."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from distill_core.errors import PermanentError
from distill_core.status import Counts
from distill_notion.report_document import build
from distill_notion.report_pdf import FONT_DIR, clean, resolve_fonts
from distill_notion.report_settings import ReportSettings
from distill_notion.report_worker import render, retry_delay
from pypdf import PdfReader

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
TITLES = ["Harbour storms explained", "Как приготовить борщ", "Ελληνική σαλάτα", "Carrot soup | for four"]


def doc(n_items: int = 4, **task_kw: Any) -> dict[str, Any]:
    task = {"id": uuid.uuid4(), "status": "succeeded", "stages": ["parse", "ai"], "labels": {"list": "reading"}}
    task.update({"started_at": NOW, "finished_at": NOW, **task_kw})
    rows = [
        {
            "id": uuid.uuid4(),
            "position": n,
            "status": "succeeded",
            "input": f"https://example.com/{n}",
            "input_kind": "url",
            "parsed_title": TITLES[n % len(TITLES)] + ("" if n < len(TITLES) else f" {n}"),
            "summary": f"Summary number {n}.",
            "keywords": ["alpha", f"k{n}"],
            "insights": [f"Insight {n}."],
            "ai_recipe": {"ingredients": ["6 carrots", "1 onion"], "instructions": ["Chop.", "Simmer."], "yields": "4"}
            if n == 3
            else None,
        }
        for n in range(n_items)
    ]
    return build(task, Counts(total=n_items, succeeded=n_items), rows, NOW)


def pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def test_markdown_has_the_cover_and_a_section_per_item() -> None:
    d = doc()
    md = render("markdown", d, resolve_fonts()).decode()
    assert md.startswith(f"# Distill report: task {d['task']['id']}\n")
    assert "| Status | succeeded |" in md and "| Labels | list=reading |" in md
    assert "## 2. Как приготовить борщ" in md and "### Summary\n\nSummary number 1." in md
    assert "## 4. Carrot soup | for four" in md, "a title is a heading, not a table cell"
    assert "### Keywords\n\nalpha, k0" in md and "### Insights\n\n- Insight 0." in md
    assert "### Recipe" in md and "#### Ingredients\n\n- [ ] 6 carrots" in md and "#### Steps\n\n1. Chop." in md


def test_an_uploaded_file_is_named_by_its_file_name() -> None:
    d = doc(1)
    d["items"][0].update(title="Dear Ingrid", source={"file": "letter from Oslo.png"}, input="upload://0f3a/letter.png")
    assert "- File: letter from Oslo.png" in render("markdown", d, resolve_fonts()).decode()
    assert "File: letter from Oslo.png" in pdf_text(render("pdf", d, resolve_fonts()))


def test_markdown_of_an_unfinished_or_empty_task_says_so() -> None:
    md = render("markdown", doc(0, status="running", finished_at=None), resolve_fonts()).decode()
    assert "| Status | running |" in md and "The task had not finished" in md and "_The task has no items._" in md


def test_json_is_the_document_itself() -> None:
    d = doc()
    assert json.loads(render("json", d, resolve_fonts())) == json.loads(json.dumps(d))
    assert "Как приготовить борщ" in render("json", d, resolve_fonts()).decode(), "UTF-8, not \\u escapes"


def test_pdf_text_holds_every_title_in_any_script_and_the_recipe() -> None:
    data = render("pdf", doc(), resolve_fonts())
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    for title in TITLES:
        assert title in text, f"{title!r} not in the PDF text"
    assert "Summary number 2." in text and "alpha, k3" in text and "6 carrots" in text and "Simmer." in text
    assert "list=reading" in text and "page 1/" in text
    assert len(PdfReader(io.BytesIO(data)).outline) == 4


def test_pdf_survives_hostile_text() -> None:
    d = doc(1)
    d["items"][0]["title"] = "Nul\x00 bytes\x07 and\u202e bidi controls"
    d["items"][0]["source"] = {"url": "https://example.com/" + "a" * 5000}
    d["items"][0]["summary"] = "word " * 3000
    text = pdf_text(render("pdf", d, resolve_fonts()))
    assert "Nul bytes and bidi controls" in text
    assert clean(" a\tb\r\nc\x00 ") == "a b\nc"


def test_a_big_task_renders_in_bounded_time() -> None:
    import time

    d = doc(300)
    t = time.perf_counter()
    data = render("pdf", d, resolve_fonts())
    assert time.perf_counter() - t < 30, "300 items should render in seconds"
    assert len(PdfReader(io.BytesIO(data)).pages) > 30


def test_the_page_size_is_a4_or_letter() -> None:
    widths = {
        size: float(PdfReader(io.BytesIO(render("pdf", doc(1), resolve_fonts(), size))).pages[0].mediabox.width)
        for size in ("A4", "Letter")
    }
    assert round(widths["A4"]) == 595 and round(widths["Letter"]) == 612


def test_an_unknown_format_is_a_permanent_error() -> None:
    with pytest.raises(PermanentError, match="unknown report format 'docx'"):
        render("docx", doc(1), resolve_fonts())


def test_fonts_bundled_configured_and_checked(tmp_path: Path) -> None:
    bundled = resolve_fonts(fallbacks=[])
    assert bundled.regular == FONT_DIR / "DejaVuSans.ttf" and bundled.regular.is_file() and bundled.bold.is_file()
    own = resolve_fonts(FONT_DIR / "DejaVuSans-Bold.ttf", None, [FONT_DIR / "DejaVuSans.ttf"])
    assert own.bold == own.regular and own.fallbacks == (FONT_DIR / "DejaVuSans.ttf",)
    assert "Как приготовить борщ" in pdf_text(render("pdf", doc(2), own))
    with pytest.raises(ValueError, match=r"font file \S*missing.ttf does not exist"):
        ReportSettings(report_fallback_fonts=f"{FONT_DIR / 'DejaVuSans.ttf'},{tmp_path / 'missing.ttf'}")


def test_retry_delays_follow_the_backoff_with_jitter() -> None:
    assert retry_delay([], 1) == 0
    assert 4 <= retry_delay([5, 30], 1) <= 6 and 24 <= retry_delay([5, 30], 2) <= 36 and 24 <= retry_delay([5, 30], 9)
