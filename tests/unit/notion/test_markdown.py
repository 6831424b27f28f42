"""The markdown destination: safe stable names, every front-matter field, atomic overwrite."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from distill_notion.destinations import markdown as md

ITEM = "0f8fad5b-d9cb-469f-a165-70867728950e"


def doc(**kw: object) -> dict:
    return {
        "item_id": ITEM,
        "task_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "title": "Crème brûlée: the 3 rules",
        "url": "https://example.com/creme",
        "canonical_url": "https://example.com/creme-brulee",
        "site_name": "Example Kitchen",
        "byline": "A. Cook",
        "description": "How to.",
        "published_at": datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        "language": "en",
        "keywords": ["custard", "French dessert", "2024"],
        "summary": "Cream, sugar, patience.",
        "insights": ["Bake low.", "Chill well."],
        "model": "local",
        "word_count": 420,
        "thumbnail_url": "https://example.com/c.jpg",
        "recipe": {"ingredients": ["cream"], "instructions": ["Bake."], "yields": "4", "total_time_minutes": 90},
        "text": "Body text.",
        **kw,
    }


def read_fm(path: Path) -> dict:
    return yaml.safe_load(path.read_text().split("---\n")[1])


def test_front_matter_has_every_field() -> None:
    fm = md.front_matter(doc(properties={"status": "new", "distill_id": "forged"}))
    assert fm == {
        "title": "Crème brûlée: the 3 rules",
        "url": "https://example.com/creme",
        "canonical_url": "https://example.com/creme-brulee",
        "source": "Example Kitchen",
        "author": "A. Cook",
        "published": "2024-05-01T12:00:00+00:00",
        "language": "en",
        "description": "How to.",
        "tags": ["custard", "French-dessert"],  # Obsidian tags: no spaces, not all digits
        "keywords": ["custard", "French dessert", "2024"],
        "summary": "Cream, sugar, patience.",
        "insights": ["Bake low.", "Chill well."],
        "type": "recipe",
        "yields": "4",
        "total_time_minutes": 90,
        "word_count": 420,
        "thumbnail": "https://example.com/c.jpg",
        "model": "local",
        "distill_id": ITEM,  # a task property cannot overwrite it
        "distill_task": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "status": "new",
    }


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Crème brûlée: the 3 rules", "creme-brulee-the-3-rules"),
        ("東京の天気 予報", "東京の天気-予報"),
        ("../../etc/passwd", "etc-passwd"),
        ("CON", "con-note"),
        ("   ", "untitled"),
        ('a/b\\c:d*e?f"g<h>i|j', "a-b-c-d-e-f-g-h-i-j"),
    ],
)
def test_slugs_are_safe_and_keep_any_script(title: str, slug: str) -> None:
    assert md.slugify(title) == slug


def test_long_titles_stay_short_in_characters_and_bytes() -> None:
    s = md.slugify("長" * 500)
    assert len(s) <= md.MAX_SLUG and len(s.encode()) <= md.MAX_SLUG_BYTES


def test_folder_names_never_escape_the_vault() -> None:
    assert md.folder_name("t_1234abcd") == "t_1234abcd"
    assert md.folder_name("../x").startswith("t-") and "/" not in md.folder_name("../x")


def test_export_is_stable_and_a_reexport_overwrites_the_same_file(tmp_path: Path) -> None:
    p1 = md.export(tmp_path, "tenant", doc(summary="first"))
    p2 = md.export(tmp_path, "tenant", doc(summary="second"), previous=str(p1))
    assert p1 == p2 == tmp_path / "tenant" / f"creme-brulee-the-3-rules-{ITEM[:8]}.md"
    assert read_fm(p2)["summary"] == "second"
    assert [p.name for p in (tmp_path / "tenant").iterdir()] == [p1.name]  # no temporary files left


def test_a_changed_title_replaces_the_earlier_file(tmp_path: Path) -> None:
    old = md.export(tmp_path, "tenant", doc())
    new = md.export(tmp_path, "tenant", doc(title="New title"), previous=str(old))
    assert new.name == f"new-title-{ITEM[:8]}.md" and new.exists() and not old.exists()


def test_another_items_file_is_never_removed_or_overwritten(tmp_path: Path) -> None:
    twin = "0f8fad5b-0000-4000-8000-000000000000"  # same first 8 characters
    theirs = md.export(tmp_path, "tenant", doc(item_id=twin, summary="theirs"))
    mine = md.export(tmp_path, "tenant", doc(summary="mine"), previous=str(theirs))
    assert theirs.exists() and read_fm(theirs)["summary"] == "theirs"
    assert mine != theirs and read_fm(mine)["distill_id"] == ITEM


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary_file(tmp_path: Path) -> None:
    path = md.export(tmp_path, "tenant", doc(summary="good"))
    before = path.read_bytes()
    with pytest.raises(UnicodeEncodeError):
        md.export(tmp_path, "tenant", doc(summary="bad \ud800 surrogate"))
    assert path.read_bytes() == before
    assert list((tmp_path / "tenant").iterdir()) == [path]


def test_render_body_sections() -> None:
    text = md.render(doc())
    for part in (
        "# Crème brûlée",
        "## Summary",
        "## Keywords",
        "## Insights",
        "### Ingredients",
        "- [ ] cream",
        "1. Bake.",
        "## Text",
        "Source: <https://example.com/creme>",
    ):
        assert part in text
    assert "## Text" not in md.render(doc(include_text=False))
