"""The Markdown task report (pure): a cover with the task's figures, then one section per item."""

from __future__ import annotations

from typing import Any

from distill_notion.destinations.markdown import recipe_sections
from distill_notion.report_document import cover_rows, when


def _one_line(text: Any) -> str:
    """Headings and list entries stay on one line."""
    return " ".join(str(text).split())


def _cell(text: Any) -> str:
    """A table cell: one line, and a '|' that does not end the cell."""
    return _one_line(text).replace("|", "\\|")


def cover(task: dict[str, Any], generated_at: str) -> list[str]:
    parts = [f"# Distill report: task {task['id']}\n"]
    if not task.get("finished"):
        parts.append("_The task had not finished: the items are shown as they were when this report was made._\n")
    rows = cover_rows(task, generated_at)
    parts.append("| | |\n|---|---|\n" + "\n".join(f"| {a} | {_cell(b)} |" for a, b in rows) + "\n")
    if task.get("errors_by_code"):
        lines = "\n".join(f"- `{code}`: {n}" for code, n in task["errors_by_code"].items())
        parts.append("Failures by error code:\n\n" + lines + "\n")
    return parts


def item_section(item: dict[str, Any]) -> list[str]:
    parts = [f"## {item['position'] + 1}. {_one_line(item['title'])}\n"]
    src = item.get("source", {})
    meta = [f"Status: {item['status']}"]
    if src.get("url"):
        meta.append(f"Source: <{src['url']}>")
    elif src.get("file"):
        meta.append(f"File: {src['file']}")
    elif item.get("input"):
        meta.append(f"Input: {item['input']}")
    for key, label in (("site_name", "Site"), ("author", "Author")):
        if src.get(key):
            meta.append(f"{label}: {src[key]}")
    if src.get("published_at"):
        meta.append(f"Published: {when(src['published_at'])}")
    if src.get("word_count"):
        meta.append(f"Words: {src['word_count']}")
    if item.get("export", {}).get("url"):
        meta.append(f"Exported: <{item['export']['url']}>")
    parts.append("\n".join(f"- {m}" for m in meta) + "\n")
    if item.get("error"):
        e = item["error"]
        parts.append(f"> **Failed** (`{e.get('code', '')}`): {_one_line(e.get('message', ''))}\n")
    if item.get("no_content"):
        parts.append("_No content: the source had no text to read._\n")
    if item.get("summary"):
        parts.append("### Summary\n\n" + item["summary"] + "\n")
    elif item.get("excerpt"):
        parts.append("### Excerpt\n\n" + item["excerpt"] + "\n")
    if item.get("keywords"):
        parts.append("### Keywords\n\n" + ", ".join(item["keywords"]) + "\n")
    if item.get("insights"):
        parts.append("### Insights\n\n" + "\n".join(f"- {i}" for i in item["insights"]) + "\n")
    parts += recipe_sections(item.get("recipe"), level=3)
    return parts


def render(doc: dict[str, Any]) -> str:
    parts = cover(doc["task"], doc["report"]["generated_at"])
    if not doc["items"]:
        parts.append("_The task has no items._\n")
    for item in doc["items"]:
        parts += item_section(item)
    return "\n".join(parts)
