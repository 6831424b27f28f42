"""The `markdown` destination: one .md file with YAML front matter per item (an Obsidian-style vault).

Files live in `<export dir>/<tenant>/<slug-of-title>-<first 8 of item id>.md`:

* stable: the same item always maps to the same name (a re-export overwrites it; if the
  title changed, the earlier file is removed);
* safe: the slug keeps letters and digits of any script, never a path separator, a
  leading dot or a reserved Windows name, and stays well under file-name limits;
* atomic: written to a temporary file in the same folder, fsync'd, renamed over the
  old one, and the folder fsync'd, so a reader (or a crash) never sees half a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

import yaml

from distill_notion import ledger
from distill_notion.destinations import front_matter as front_matter_yaml
from distill_notion.destinations.base import ExportJob, Published

MAX_SLUG = 60
MAX_SLUG_BYTES = 120
RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
PROTECTED = ("distill_id", "distill_task")  # task properties cannot overwrite these
_NOT_WORD = re.compile(r"[^\w]+", re.UNICODE)
_TAG_BAD = re.compile(r"[^\w/-]+", re.UNICODE)


def slugify(title: str, max_len: int = MAX_SLUG) -> str:
    """Lower-case words of any script joined by '-', accents dropped from Latin letters."""
    s = unicodedata.normalize("NFKD", title or "")
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = unicodedata.normalize("NFKC", s).lower().replace("_", " ")
    s = _NOT_WORD.sub("-", s).strip("-")
    s = s[:max_len].rstrip("-")
    while len(s.encode()) > MAX_SLUG_BYTES:
        s = s[:-1].rstrip("-")
    if not s or s in RESERVED:
        s = f"{s}-note" if s else "untitled"
    return s


def folder_name(tenant_id: str) -> str:
    """The tenant's folder: the id itself when it is a plain name, else a digest of it."""
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", tenant_id or "") and tenant_id.lower() not in RESERVED:
        return tenant_id
    return "t-" + hashlib.sha256((tenant_id or "").encode()).hexdigest()[:16]


def file_name(title: str | None, item_id: str) -> str:
    """Stable and safe: the same item and title always map to the same file."""
    return f"{slugify(title or 'untitled')}-{item_id.replace('-', '')[:8]}.md"


def obsidian_tag(keyword: str) -> str | None:
    """A keyword as an Obsidian tag: no spaces, only letters, digits, '_', '-', '/'; not all digits."""
    t = _TAG_BAD.sub("-", re.sub(r"\s+", "-", str(keyword).strip())).strip("-/")
    return t if t and not t.isdigit() else None


def front_matter(doc: dict[str, Any]) -> dict[str, Any]:
    """Every field Distill knows about the item (empty ones left out)."""
    recipe = doc.get("recipe") or {}
    keywords = [str(k) for k in doc.get("keywords") or []]
    published = doc.get("published_at")
    fm: dict[str, Any] = {
        "title": doc.get("title") or "Untitled",
        "url": doc.get("url"),
        "canonical_url": doc.get("canonical_url") if doc.get("canonical_url") != doc.get("url") else None,
        "source": doc.get("site_name"),
        "author": doc.get("byline"),
        "published": published.isoformat() if hasattr(published, "isoformat") else published,
        "language": doc.get("language"),
        "description": doc.get("description"),
        "tags": list(dict.fromkeys(t for t in map(obsidian_tag, keywords) if t)),
        "keywords": keywords,
        "summary": doc.get("summary"),
        "insights": [str(i) for i in doc.get("insights") or []],
        "type": "recipe" if recipe.get("ingredients") or recipe.get("instructions") else "article",
        "yields": recipe.get("yields"),
        "prep_time_minutes": recipe.get("prep_time_minutes"),
        "cook_time_minutes": recipe.get("cook_time_minutes"),
        "total_time_minutes": recipe.get("total_time_minutes"),
        "word_count": doc.get("word_count"),
        "thumbnail": doc.get("thumbnail_url"),
        "model": doc.get("model"),
        "distill_id": doc.get("item_id"),
        "distill_task": doc.get("task_id"),
    }
    for k, v in (doc.get("properties") or {}).items():
        if k not in PROTECTED:
            fm[str(k)] = v
    return {k: v for k, v in fm.items() if v not in (None, "", [], 0)}


def recipe_sections(recipe: dict[str, Any] | None, level: int = 2) -> list[str]:
    """A recipe as Markdown: times and yield, ingredients as a to-do list, numbered steps.

    `level` is the heading level of "Recipe" (its parts one below). Nothing without
    ingredients or steps. Also used by the Markdown task report (report_markdown.py).
    """
    if not recipe or not (recipe.get("ingredients") or recipe.get("instructions")):
        return []
    h = "#" * level
    parts = [f"{h} Recipe\n"]
    meta = [f"Yields: {recipe['yields']}"] if recipe.get("yields") else []
    for k in ("prep_time_minutes", "cook_time_minutes", "total_time_minutes"):
        if recipe.get(k):
            meta.append(f"{k.replace('_minutes', '').replace('_', ' ').title()}: {recipe[k]} min")
    if meta:
        parts.append("\n".join(f"- {m}" for m in meta) + "\n")
    if recipe.get("ingredients"):
        parts.append(f"{h}# Ingredients\n\n" + "\n".join(f"- [ ] {i}" for i in recipe["ingredients"]) + "\n")
    if recipe.get("instructions"):
        steps = "\n".join(f"{n}. {s}" for n, s in enumerate(recipe["instructions"], 1))
        parts.append(f"{h}# Steps\n\n" + steps + "\n")
    return parts


def render(doc: dict[str, Any]) -> str:
    """Front matter, then the body: summary, keywords, insights, recipe, source, full text."""
    parts = ["---", front_matter_yaml.dump(front_matter(doc)), "---", ""]
    parts.append(f"# {doc.get('title') or 'Untitled'}\n")
    if doc.get("url"):
        parts.append(f"Source: <{doc['url']}>\n")
    if doc.get("summary"):
        parts.append("## Summary\n\n" + str(doc["summary"]).strip() + "\n")
    if doc.get("keywords"):
        parts.append("## Keywords\n\n" + ", ".join(map(str, doc["keywords"])) + "\n")
    if doc.get("insights"):
        parts.append("## Insights\n\n" + "\n".join(f"- {i}" for i in doc["insights"]) + "\n")
    parts += recipe_sections(doc.get("recipe"))
    if doc.get("include_text", True) and doc.get("text"):
        parts.append("## Text\n\n" + str(doc["text"]).strip() + "\n")
    return "\n".join(parts)


def write_atomic(path: Path, content: str) -> None:
    """Write via a temporary file and rename: a reader never sees half a file, a crash leaves the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".md")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def distill_id_of(path: Path) -> str | None:
    """The `distill_id` in a Markdown file's front matter (None when unreadable)."""
    try:
        with open(path, encoding="utf-8") as f:
            head = f.read(65536)
        m = re.match(r"^---\n(.*?)\n---\n", head, re.S)
        data = yaml.safe_load(m.group(1)) if m else None
        return str(data.get("distill_id")) if isinstance(data, dict) and data.get("distill_id") else None
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None


def export(root: Path, tenant_id: str, doc: dict[str, Any], previous: str | None = None) -> Path:
    """Write the item's file (overwriting an earlier export of the same item) and return its path.

    `previous` is the path of the item's earlier export (from the exports row): when the
    title changed it is removed, so an item never has two files.
    """
    folder = root / folder_name(tenant_id)
    item_id = str(doc["item_id"])
    path = folder / file_name(doc.get("title"), item_id)
    if path.exists() and distill_id_of(path) not in (None, item_id):
        # Another item has the same title and id prefix: take the full id for this one.
        path = folder / f"{slugify(doc.get('title') or 'untitled')}-{item_id.replace('-', '')}.md"
    write_atomic(path, render(doc))
    if previous:
        old = Path(previous)
        if old != path and old.parent == folder and distill_id_of(old) == item_id:
            old.unlink(missing_ok=True)
    return path


class MarkdownDestination:
    """Files in `root`; the exports row remembers each item's file."""

    name = "markdown"

    def __init__(self, root: Path, engine: Any = None) -> None:
        self.root = root.resolve()
        self.engine = engine

    async def publish(self, job: ExportJob) -> Published:
        previous = job.previous
        if not job.previous_known and self.engine is not None:
            async with self.engine.connect() as conn:
                rec = await ledger.load(conn, job.item_id, self.name)
            previous = rec.external_id if rec else None
        doc = {**job.doc, "properties": job.properties, "include_text": job.include_text}
        path = await asyncio.to_thread(export, self.root, job.tenant_id, doc, previous)
        return Published(external_id=str(path), url=path.as_uri())

    async def close(self) -> None:
        return None
