"""The PDF task report (fpdf2): a cover with the task's figures, then one section per item
(title, source, summary, keywords, insights, recipe), with a PDF outline entry per item.

Text is drawn in DejaVu Sans (bundled in distill_notion/fonts, so Latin, Greek, Cyrillic
and many other scripts work with nothing installed), or the deployment's font; fallback
fonts (a CJK font, say) are used for characters the main font lacks. fpdf2 embeds only
the glyphs used and a ToUnicode map, so the text can be searched and extracted.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from distill_notion.report_document import cover_rows, when
from distill_notion.report_fonts import FONT_DIR, SYSTEM_FALLBACKS, Fonts, resolve_fonts

__all__ = ["FONT_DIR", "SYSTEM_FALLBACKS", "Fonts", "clean", "render", "resolve_fonts"]

MAX_URL_CHARS = 300
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")
GREY, INK, RED = (100, 100, 100), (20, 20, 20), (170, 30, 30)


def clean(text: Any) -> str:
    """Printable text: control and invisible formatting characters dropped, tabs as spaces."""
    return _CONTROL.sub("", str(text).replace("\t", " ").replace("\r\n", "\n").replace("\r", "\n")).strip()


class _Report(FPDF):
    def __init__(self, fonts: Fonts, task_id: str, page_size: str) -> None:
        super().__init__(format=page_size.lower() if page_size == "A4" else "letter")
        self.task_id = task_id
        self.add_font("body", "", str(fonts.regular), collection_font_number=0)
        self.add_font("body", "B", str(fonts.bold), collection_font_number=0)
        names = []
        for n, path in enumerate(fonts.fallbacks):
            self.add_font(f"fallback{n}", "", str(path), collection_font_number=0)
            names.append(f"fallback{n}")
        if names:
            self.set_fallback_fonts(names, exact_match=False)
        self.set_auto_page_break(True, margin=18)
        self.set_margins(18, 18, 18)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("body", "", 8)
        self.set_text_color(*GREY)
        self.cell(0, 5, f"Distill report · task {self.task_id} · page {self.page_no()}/{{nb}}", align="C")


def _para(pdf: FPDF, text: str, size: float = 10, style: str = "", color: tuple[int, int, int] = INK) -> None:
    pdf.set_font("body", style, size)
    pdf.set_text_color(*color)
    pdf.multi_cell(0, size * 0.5, clean(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(1.5)
    _para(pdf, text, 10.5, "B")
    pdf.ln(0.5)


def _bullets(pdf: FPDF, lines: list[str], numbered: bool = False) -> None:
    pdf.set_font("body", "", 10)
    pdf.set_text_color(*INK)
    for n, line in enumerate(lines, 1):
        mark = f"{n}." if numbered else "•"
        pdf.set_x(pdf.l_margin + 2)
        pdf.cell(6, 5, mark)
        pdf.multi_cell(0, 5, clean(line), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _cover(pdf: _Report, task: dict[str, Any], generated_at: str) -> None:
    pdf.add_page()
    pdf.set_y(40)
    _para(pdf, "Distill report", 26, "B")
    pdf.ln(2)
    _para(pdf, f"Task {task['id']}", 12, color=GREY)
    if not task.get("finished"):
        pdf.ln(2)
        _para(pdf, "The task had not finished: the items are shown as they were when this report was made.", 10, "B")
    pdf.ln(8)
    rows = cover_rows(task, generated_at)
    pdf.set_font("body", "", 10.5)
    pdf.set_text_color(*INK)
    with pdf.table(col_widths=(35, 105), first_row_as_headings=False, line_height=6.5, width=140, align="L") as table:
        for label, value in rows:
            row = table.row()
            row.cell(label)
            row.cell(clean(value))
    if task.get("errors_by_code"):
        pdf.ln(6)
        _heading(pdf, "Failures by error code")
        _bullets(pdf, [f"{code}: {n}" for code, n in task["errors_by_code"].items()])


def _item(pdf: _Report, item: dict[str, Any]) -> None:
    title = clean(item["title"]) or "Untitled"
    if pdf.will_page_break(30):
        pdf.add_page()
    pdf.start_section(f"{item['position'] + 1}. {title}"[:200])
    _para(pdf, f"{item['position'] + 1}. {title}", 14, "B")
    src = item.get("source", {})
    meta = [item["status"]]
    for key in ("site_name", "author"):
        if src.get(key):
            meta.append(str(src[key]))
    if src.get("published_at"):
        meta.append(when(src["published_at"]))
    if src.get("word_count"):
        meta.append(f"{src['word_count']} words")
    _para(pdf, " · ".join(meta), 9, color=GREY)
    url = src.get("url")
    if url:
        pdf.set_font("body", "", 9)
        pdf.set_text_color(30, 70, 160)
        pdf.multi_cell(0, 4.5, clean(url)[:MAX_URL_CHARS], link=url, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    elif src.get("file"):
        _para(pdf, f"File: {src['file']}", 9, color=GREY)
    elif item.get("input"):
        _para(pdf, f"Input: {item['input']}", 9, color=GREY)
    if item.get("error"):
        pdf.ln(1)
        _para(pdf, f"Failed ({item['error'].get('code', '')}): {item['error'].get('message', '')}", 10, color=RED)
    if item.get("no_content"):
        _para(pdf, "No content: the source had no text to read.", 10, color=GREY)
    if item.get("summary"):
        _heading(pdf, "Summary")
        _para(pdf, item["summary"])
    elif item.get("excerpt"):
        _heading(pdf, "Excerpt")
        _para(pdf, item["excerpt"])
    if item.get("keywords"):
        _heading(pdf, "Keywords")
        _para(pdf, ", ".join(item["keywords"]))
    if item.get("insights"):
        _heading(pdf, "Insights")
        _bullets(pdf, item["insights"])
    if item.get("recipe"):
        _recipe(pdf, item["recipe"])
    pdf.ln(3)
    pdf.set_draw_color(210, 210, 210)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(4)


def _recipe(pdf: _Report, recipe: dict[str, Any]) -> None:
    _heading(pdf, "Recipe" + (f": {recipe['title']}" if recipe.get("title") else ""))
    facts = [f"Yields {recipe['yields']}"] if recipe.get("yields") else []
    for key, label in (("prep_time_minutes", "prep"), ("cook_time_minutes", "cook"), ("total_time_minutes", "total")):
        if recipe.get(key):
            facts.append(f"{label} {recipe[key]} min")
    if facts:
        _para(pdf, " · ".join(facts), 9.5, color=GREY)
    if recipe.get("ingredients"):
        _para(pdf, "Ingredients", 10, "B")
        _bullets(pdf, recipe["ingredients"])
    if recipe.get("instructions"):
        _para(pdf, "Steps", 10, "B")
        _bullets(pdf, recipe["instructions"], numbered=True)


def render(doc: dict[str, Any], fonts: Fonts, page_size: str = "A4") -> bytes:
    """The report document (report_document.build) as PDF bytes."""
    task = doc["task"]
    pdf = _Report(fonts, task["id"], page_size)
    pdf.set_title(f"Distill report: task {task['id']}")
    pdf.set_creator("Distill")
    made = doc["report"].get("generated_at")
    if made:
        pdf.set_creation_date(datetime.fromisoformat(made))
    _cover(pdf, task, made or "")
    if doc["items"]:
        pdf.add_page()
    for item in doc["items"]:
        _item(pdf, item)
    return bytes(pdf.output())
