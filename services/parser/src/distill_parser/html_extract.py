"""An HTML page to text, metadata and structured data: the tree is parsed once and shared by
our metadata, JSON-LD, microdata and recipe readers and by trafilatura (which copies it)."""

from __future__ import annotations

import json
import re
from typing import Any

from distill_parser import recipe_html, recipes, structured
from distill_parser.extracted import Extracted
from distill_parser.html_text import fallback_text, parse
from distill_parser.metadata import http_url, page_metadata, types_of

_WS = re.compile(r"[ \t]{2,}|\t")  # runs of spaces and tabs, as one space (a lone space stays)
MAX_STORED_OBJECTS = 20
MAX_OBJECT_CHARS = 20_000


def _main_text(doc: Any, url: str) -> str:
    import trafilatura

    try:
        found = trafilatura.bare_extraction(
            doc,
            url=url,
            with_metadata=False,
            include_comments=False,
            include_tables=True,
            favor_recall=True,
        )
    except Exception:  # trafilatura on a hostile page: fall back to our own reading
        found = None
    text = (getattr(found, "text", None) or "").strip() if found is not None else ""
    return text or fallback_text(doc)


def _summary(objects: list[dict[str, Any]], recipe: dict[str, Any] | None, url: str) -> dict[str, Any]:
    """What the page's schema.org data says, for `structured`: normalised Recipe/Article/Product,
    the types present, and the first objects as they were (each bounded)."""
    out: dict[str, Any] = {"types": list(dict.fromkeys(t for o in objects for t in types_of(o)))[:50]}
    if recipe is not None:
        out["recipe"] = recipe
    art = structured.find(objects, structured.ARTICLE_TYPES)
    if art is not None:
        out["article"] = structured.article(art, url)
    prod = structured.find(objects, {"product"})
    if prod is not None:
        out["product"] = structured.product(prod, url)
    kept = []
    for o in objects[:MAX_STORED_OBJECTS]:
        try:
            if len(json.dumps(o, default=str)) <= MAX_OBJECT_CHARS:
                kept.append(o)
        except (TypeError, ValueError, RecursionError):
            continue
    out["objects"] = kept
    return out


def extract_html(html: str, url: str) -> Extracted:
    doc = parse(html)
    objects = structured.json_ld(doc) + structured.microdata(doc)
    meta = page_metadata(doc, url, objects)
    recipe = recipe_html.complete(recipes.find_recipe(objects, url), doc)
    text = _main_text(doc, url) if doc is not None else ""
    text = "\n".join(_WS.sub(" ", ln).strip() for ln in text.splitlines()).strip()
    title = (recipe or {}).get("title") or meta.get("title")
    out = _summary(objects, recipe, url)
    out["opengraph"] = meta.get("opengraph", {})
    return Extracted(
        text=text,
        title=(title or "").strip() or None,
        byline=(recipe or {}).get("author") or meta.get("author") or None,
        site_name=meta.get("site_name"),
        description=meta.get("description") or (recipe or {}).get("description") or None,
        published_at=meta.get("published"),
        language=meta.get("language"),
        canonical_url=meta.get("canonical") or url,
        thumbnail_url=http_url((recipe or {}).get("image"), url) or meta.get("image"),
        structured=out,
        recipe=recipe,
        content_type="text/html",
    )
