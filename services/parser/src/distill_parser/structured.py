"""Page metadata (title, OpenGraph, canonical, ...) and schema.org JSON-LD / microdata."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from lxml import html as lxml_html

_JSONLD = re.compile(r"""<script[^>]+type\s*=\s*["']?application/ld\+json["']?[^>]*>(.*?)</script>""", re.I | re.S)


def _doc(html: str) -> Any:
    try:
        return lxml_html.fromstring(html.encode("utf-8", "replace"))
    except Exception:
        return None


def page_metadata(html: str, url: str) -> dict[str, Any]:
    doc = _doc(html)
    out: dict[str, Any] = {"opengraph": {}}
    if doc is None:
        return out
    og: dict[str, str] = {}
    for m in doc.iterfind(".//meta"):
        key = (m.get("property") or m.get("name") or "").strip().lower()
        val = (m.get("content") or "").strip()
        if not key or not val:
            continue
        if key.startswith(("og:", "article:", "twitter:")):
            og.setdefault(key, val)
        elif key in ("author", "description", "date", "dc.date", "dc.creator"):
            out.setdefault(key, val)
    out["opengraph"] = og
    title = og.get("og:title") or og.get("twitter:title")
    if not title:
        t = doc.find(".//title")
        title = t.text_content().strip() if t is not None else None
    out["title"] = title
    out["description"] = og.get("og:description") or out.get("description")
    out["site_name"] = og.get("og:site_name")
    out["image"] = og.get("og:image") or og.get("twitter:image")
    out["author"] = out.get("author") or og.get("article:author") or out.get("dc.creator")
    out["published"] = og.get("article:published_time") or out.get("date") or out.get("dc.date")
    for link in doc.iterfind(".//link"):
        if (link.get("rel") or "").lower() == "canonical" and link.get("href"):
            from urllib.parse import urljoin

            out["canonical"] = urljoin(url, link.get("href").strip())
            break
    root = doc.getroottree().getroot()
    out["language"] = (root.get("lang") or "").strip() or None
    return out


def json_ld(html: str) -> list[dict[str, Any]]:
    """Every schema.org object in the page's JSON-LD, @graph flattened."""
    out: list[dict[str, Any]] = []
    for raw in _JSONLD.findall(html):
        raw = raw.strip().removeprefix("<!--").removesuffix("-->").strip()
        try:
            data = json.loads(raw, strict=False)
        except ValueError:
            continue
        _flatten(data, out)
    return out


def _flatten(data: Any, out: list[dict[str, Any]]) -> None:
    if isinstance(data, list):
        for d in data:
            _flatten(d, out)
    elif isinstance(data, dict):
        if "@graph" in data:
            _flatten(data["@graph"], out)
        if "@type" in data:
            out.append(data)


def microdata(html: str) -> list[dict[str, Any]]:
    """Top-level schema.org microdata items (itemscope/itemtype/itemprop)."""
    doc = _doc(html)
    if doc is None:
        return []
    items = []
    for el in doc.xpath("//*[@itemscope and @itemtype and not(@itemprop)]"):
        items.append(_md_item(el))
    return items


def _md_item(el: Any) -> dict[str, Any]:
    typ = (el.get("itemtype") or "").rstrip("/").rsplit("/", 1)[-1]
    item: dict[str, Any] = {"@type": typ}
    for prop in el.xpath(".//*[@itemprop]"):
        # only properties whose nearest itemscope ancestor is `el`
        owner = prop.getparent()
        while owner is not None and owner is not el and owner.get("itemscope") is None:
            owner = owner.getparent()
        if owner is not el:
            continue
        name = prop.get("itemprop")
        if prop.get("itemscope") is not None:
            val: Any = _md_item(prop)
        elif prop.tag == "meta":
            val = prop.get("content") or ""
        elif prop.tag in ("img", "source", "audio", "video"):
            val = prop.get("src") or ""
        elif prop.tag in ("a", "link"):
            val = prop.get("href") or ""
        elif prop.tag == "time":
            val = prop.get("datetime") or prop.text_content().strip()
        else:
            val = prop.get("content") or prop.text_content().strip()
        for n in (name or "").split():
            if n in item:
                if not isinstance(item[n], list):
                    item[n] = [item[n]]
                item[n].append(val)
            else:
                item[n] = val
    return item


def fallback_text(html: str) -> str:
    doc = _doc(html)
    if doc is None:
        return ""
    for bad in doc.xpath("//script|//style|//noscript|//nav|//footer|//header"):
        bad.drop_tree()
    paras = [p.text_content().strip() for p in doc.xpath("//p|//li|//h1|//h2|//h3")]
    text = "\n".join(p for p in paras if p)
    return text or doc.text_content().strip()


def parse_date(v: Any) -> datetime | None:
    if not v:
        return None
    s = str(v).strip()
    try:
        d = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        try:
            d = datetime.strptime(s[:10], "%Y-%m-%d")
        except ValueError:
            return None
    if d.tzinfo is None:
        from datetime import UTC

        d = d.replace(tzinfo=UTC)
    return d
