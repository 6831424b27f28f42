"""The `markdown` destination: one .md file with YAML front matter per item (an Obsidian-style vault)."""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

import yaml

_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(title: str, max_len: int = 60) -> str:
    s = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    s = _SLUG.sub("-", s).strip("-")
    return s[:max_len].rstrip("-") or "untitled"


def file_name(title: str | None, item_id: str) -> str:
    """Stable and safe: the same item always maps to the same file."""
    return f"{slugify(title or 'untitled')}-{item_id[:8]}.md"


def render(doc: dict[str, Any]) -> str:
    """Front matter with every field, then the body."""
    fm = {
        "title": doc.get("title") or "Untitled",
        "url": doc.get("url"),
        "canonical_url": doc.get("canonical_url"),
        "source": doc.get("site_name"),
        "author": doc.get("byline"),
        "published": doc.get("published_at").isoformat() if doc.get("published_at") else None,
        "language": doc.get("language"),
        "tags": doc.get("keywords") or [],
        "summary": doc.get("summary"),
        "distill_id": doc.get("item_id"),
        "distill_task": doc.get("task_id"),
        "thumbnail": doc.get("thumbnail_url"),
        "model": doc.get("model"),
    }
    fm.update(doc.get("properties") or {})
    fm = {k: v for k, v in fm.items() if v not in (None, "", [])}
    parts = ["---", yaml.safe_dump(fm, allow_unicode=True, sort_keys=False, width=1000).strip(), "---", ""]
    parts.append(f"# {doc.get('title') or 'Untitled'}\n")
    if doc.get("url"):
        parts.append(f"Source: <{doc['url']}>\n")
    if doc.get("summary"):
        parts.append("## Summary\n\n" + doc["summary"].strip() + "\n")
    if doc.get("keywords"):
        parts.append("## Keywords\n\n" + ", ".join(doc["keywords"]) + "\n")
    if doc.get("insights"):
        parts.append("## Insights\n\n" + "\n".join(f"- {i}" for i in doc["insights"]) + "\n")
    recipe = doc.get("recipe")
    if recipe:
        parts.append("## Recipe\n")
        meta = [f"{k.replace('_', ' ').title()}: {recipe[k]}" for k in ("yields",) if recipe.get(k)]
        for k in ("prep_time_minutes", "cook_time_minutes", "total_time_minutes"):
            if recipe.get(k):
                meta.append(f"{k.replace('_minutes', '').replace('_', ' ').title()}: {recipe[k]} min")
        if meta:
            parts.append("\n".join(f"- {m}" for m in meta) + "\n")
        if recipe.get("ingredients"):
            parts.append("### Ingredients\n\n" + "\n".join(f"- [ ] {i}" for i in recipe["ingredients"]) + "\n")
        if recipe.get("instructions"):
            parts.append(
                "### Steps\n\n" + "\n".join(f"{n}. {s}" for n, s in enumerate(recipe["instructions"], 1)) + "\n"
            )
    if doc.get("include_text", True) and doc.get("text"):
        parts.append("## Text\n\n" + doc["text"].strip() + "\n")
    return "\n".join(parts)


def write_atomic(path: Path, content: str) -> None:
    """Write via a temporary file and rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".md")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export(root: Path, tenant_id: str, doc: dict[str, Any]) -> Path:
    """Write the item's file (overwriting an earlier export of the same item) and return its path."""
    folder = root / tenant_id
    name = file_name(doc.get("title"), doc["item_id"])
    # A re-export after the title changed replaces the old file rather than adding one.
    for old in folder.glob(f"*-{doc['item_id'][:8]}.md") if folder.exists() else []:
        if old.name != name:
            old.unlink(missing_ok=True)
    path = folder / name
    write_atomic(path, render(doc))
    return path
