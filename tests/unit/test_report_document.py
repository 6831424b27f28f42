"""The report document (distill_notion.report_document): what each item and the cover say."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from distill_core.status import Counts
from distill_notion.report_document import build, item_entry, recipe_of

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def row(**kw: Any) -> dict[str, Any]:
    base = {
        "id": uuid.uuid4(),
        "position": 0,
        "status": "succeeded",
        "input": "https://a.example/x",
        "input_kind": "url",
    }
    return {**base, **kw}


def task(**kw: Any) -> dict[str, Any]:
    base = {"id": uuid.uuid4(), "status": "succeeded", "stages": ["parse", "ai", "notion"], "labels": {}}
    return {**base, **kw}


def test_an_item_takes_the_parsed_title_the_final_url_and_the_ai_results() -> None:
    e = item_entry(
        row(
            parsed_title="The real title",
            title="old",
            url="https://a.example/x",
            final_url="https://a.example/final",
            site_name="A",
            word_count=321,
            summary="  Short.  ",
            keywords=["k1", "k2"],
            insights=["i1"],
            export_url="file:///vault/x.md",
            destination="markdown",
        )
    )
    assert e["title"] == "The real title" and e["summary"] == "Short."
    assert e["source"] == {"url": "https://a.example/final", "site_name": "A", "word_count": 321}
    assert e["keywords"] == ["k1", "k2"] and e["insights"] == ["i1"]
    assert e["export"] == {"destination": "markdown", "url": "file:///vault/x.md"}
    assert "excerpt" not in e and "error" not in e and "recipe" not in e


def test_an_item_that_never_got_parsed_keeps_its_input_and_error() -> None:
    err = {"code": "HTTP_NOT_FOUND", "message": "404", "stage": "parse", "retryable": False}
    e = item_entry(row(status="failed", input="https://gone.example/p", error=err))
    assert e["title"] == "https://gone.example/p" and e["source"] == {"url": "https://gone.example/p"}
    assert e["error"] == {"code": "HTTP_NOT_FOUND", "message": "404", "stage": "parse"}
    scan = {"input_kind": "file", "input": "upload://0f3a9c/letter from Oslo.png", "url": "upload://0f3a9c/x"}
    named = item_entry(row(**scan))
    assert named["title"] == "letter from Oslo.png" and named["source"] == {"file": "letter from Oslo.png"}
    read = item_entry(row(**scan, parsed_title="Dear Ingrid", word_count=120))
    assert read["title"] == "Dear Ingrid" and read["source"] == {"file": "letter from Oslo.png", "word_count": 120}


def test_the_excerpt_stands_in_for_a_missing_summary() -> None:
    assert item_entry(row(excerpt="First words of the text."))["excerpt"] == "First words of the text."
    assert "excerpt" not in item_entry(row(excerpt="text", summary="A summary."))


def test_the_ai_recipe_wins_and_a_recipe_without_ingredients_or_steps_is_none() -> None:
    ai = {"title": "Soup", "ingredients": ["water"], "instructions": [], "yields": "2", "junk": "x"}
    page = {"title": "Page soup", "ingredients": ["salt"]}
    assert recipe_of({"ai_recipe": ai, "parsed_recipe": page}) == {
        "title": "Soup",
        "ingredients": ["water"],
        "yields": "2",
    }
    assert recipe_of({"ai_recipe": {"title": "empty"}, "parsed_recipe": page})["title"] == "Page soup"
    assert recipe_of({"ai_recipe": {"title": "no steps"}}) is None


def test_the_cover_counts_items_dates_and_failures_by_code() -> None:
    t = task(
        status="partially_failed",
        labels={"list": "reading"},
        created_at=NOW - timedelta(minutes=5),
        started_at=NOW - timedelta(minutes=4),
        finished_at=NOW,
    )
    rows = [
        row(position=0),
        row(position=1, status="failed", error={"code": "TIMEOUT", "message": "slow"}),
        row(position=2, status="failed", error={"code": "TIMEOUT", "message": "slow"}),
        row(position=3, status="failed", error={"code": "HTTP_GONE", "message": "410"}),
    ]
    doc = build(t, Counts(total=4, succeeded=1, failed=3), rows, NOW)
    cover = doc["task"]
    assert cover["counts"] == {"total": 4, "succeeded": 1, "failed": 3, "cancelled": 0, "running": 0, "pending": 0}
    assert cover["errors_by_code"] == {"TIMEOUT": 2, "HTTP_GONE": 1}
    assert cover["duration_seconds"] == 240 and cover["finished"] is True and cover["progress"] == 100
    assert cover["labels"] == {"list": "reading"} and cover["finished_at"] == NOW.isoformat()
    assert doc["report"] == {"format_version": 1, "generator": "distill", "generated_at": NOW.isoformat()}
    assert [i["position"] for i in doc["items"]] == [0, 1, 2, 3]


def test_an_unfinished_task_is_marked_so() -> None:
    doc = build(task(status="running", started_at=NOW), Counts(total=2, succeeded=1, pending=1), [row()], NOW)
    assert doc["task"]["finished"] is False and doc["task"]["progress"] == 50
    assert "duration_seconds" not in doc["task"] and "finished_at" not in doc["task"]
