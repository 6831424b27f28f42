"""A task's report as one plain document (pure): the JSON report is this, the Markdown and
PDF reports are drawn from it.

    build(task, counts, items, generated_at) -> {"report": ..., "task": ..., "items": [...]}

`task` is a tasks row, `counts` its Counts, `items` the rows of report_data.load_items
(an item joined with its parsed content, AI output and export). Empty fields are left
out of each item, so every renderer shows only what is known.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from distill_core.status import Counts

FORMAT_VERSION = 1
EXCERPT_CHARS = 600
RECIPE_FIELDS = (
    "title",
    "description",
    "yields",
    "prep_time_minutes",
    "cook_time_minutes",
    "total_time_minutes",
    "cuisine",
    "category",
    "author",
    "ingredients",
    "instructions",
    "ingredient_groups",
    "source",
)


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def _clean(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in (None, "", [], {})}


def recipe_of(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The AI stage's recipe, else the one the parser read from the page; None without ingredients or steps."""
    for r in (row.get("ai_recipe"), row.get("parsed_recipe")):
        if isinstance(r, Mapping) and (r.get("ingredients") or r.get("instructions")):
            return _clean({k: r.get(k) for k in RECIPE_FIELDS})
    return None


def file_name(row: Mapping[str, Any]) -> str | None:
    """An uploaded file's name: the last part of its item's input (upload://<object id>/<file name>)."""
    if row.get("input_kind") != "file":
        return None
    return str(row.get("input") or "").rsplit("/", 1)[-1] or None


def item_entry(row: Mapping[str, Any]) -> dict[str, Any]:
    """One item of the report: what it is, where it came from, and what Distill made of it."""
    url = row.get("final_url") or row.get("url") or (row["input"] if row.get("input_kind") == "url" else None)
    if url and not str(url).startswith(("http://", "https://")):
        url = None  # an uploaded file's upload://… name is no place to go back to
    file = file_name(row)
    named = file or (row.get("input") if row.get("input_kind") != "url" else None)  # a file, a content id
    title = row.get("parsed_title") or row.get("title") or named
    source = _clean(
        {
            "url": url,
            "file": file,
            "site_name": row.get("site_name"),
            "author": row.get("byline"),
            "published_at": iso(row.get("published_at")),
            "language": row.get("language"),
            "word_count": row.get("word_count") or None,
        }
    )
    error = row.get("error") or None
    entry: dict[str, Any] = {
        "position": int(row.get("position") or 0),
        "id": str(row["id"]),
        "status": row["status"],
        "input": row.get("input"),
        "title": title or url or "Untitled",
        "source": source,
        "summary": (row.get("summary") or "").strip(),
        "keywords": [str(k) for k in row.get("keywords") or []],
        "insights": [str(i) for i in row.get("insights") or []],
        "recipe": recipe_of(row),
        "no_content": bool(row.get("no_content") or row.get("ai_no_content")) or None,
        "export": _clean({"destination": row.get("destination"), "url": row.get("export_url")}),
        "error": _clean({"code": error.get("code"), "message": error.get("message"), "stage": error.get("stage")})
        if error
        else None,
        "finished_at": iso(row.get("finished_at")),
    }
    if not entry["summary"] and row.get("excerpt"):
        entry["excerpt"] = str(row["excerpt"]).strip()[:EXCERPT_CHARS]
    return _clean(entry)


def task_figures(task: Mapping[str, Any], counts: Counts, items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The cover: status, counts by status, dates, labels, and failures by error code."""
    errors = Counter(e["error"]["code"] for e in items if e.get("error", {}).get("code"))
    started, finished = task.get("started_at"), task.get("finished_at")
    figures = _clean(
        {
            "id": str(task["id"]),
            "status": task["status"],
            "input_kind": task.get("input_kind"),
            "stages": list(task.get("stages") or []),
            "priority": task.get("priority"),
            "labels": {str(k): str(v) for k, v in (task.get("labels") or {}).items()},
            "counts": {
                "total": counts.total,
                "succeeded": counts.succeeded,
                "failed": counts.failed,
                "cancelled": counts.cancelled,
                "running": counts.running,
                "pending": counts.pending,
            },
            "progress": counts.progress,
            "created_at": iso(task.get("created_at")),
            "started_at": iso(started),
            "finished_at": iso(finished),
            "duration_seconds": round((finished - started).total_seconds(), 3) if started and finished else None,
            "errors_by_code": dict(errors.most_common()),
        }
    )
    figures["finished"] = finished is not None  # a report of an unfinished task says so
    return figures


def when(value: str) -> str:
    """An ISO time as people read it: 2026-05-04 12:00:00 UTC."""
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except ValueError:
        return value


def cover_rows(task: Mapping[str, Any], generated_at: str) -> list[tuple[str, str]]:
    """The cover's figures as (label, value) rows, shared by the PDF and Markdown reports."""
    counts = task["counts"]
    rows = [("Status", str(task["status"])), ("Items", str(counts.get("total", 0)))]
    rows += [(k.title(), str(counts.get(k, 0))) for k in ("succeeded", "failed", "cancelled", "running", "pending")]
    rows.append(("Progress", f"{task.get('progress', 0)} %"))
    for key, label in (("created_at", "Created"), ("started_at", "Started"), ("finished_at", "Finished")):
        if task.get(key):
            rows.append((label, when(task[key])))
    if task.get("duration_seconds") is not None:
        rows.append(("Duration", f"{task['duration_seconds']:g} s"))
    if task.get("stages"):
        rows.append(("Stages", ", ".join(task["stages"])))
    if task.get("labels"):
        rows.append(("Labels", ", ".join(f"{k}={v}" for k, v in sorted(task["labels"].items()))))
    rows.append(("Report made", when(generated_at)))
    return rows


def build(
    task: Mapping[str, Any], counts: Counts, rows: Iterable[Mapping[str, Any]], generated_at: datetime
) -> dict[str, Any]:
    items = [item_entry(r) for r in rows]
    return {
        "report": {"format_version": FORMAT_VERSION, "generator": "distill", "generated_at": iso(generated_at)},
        "task": task_figures(task, counts, items),
        "items": items,
    }
