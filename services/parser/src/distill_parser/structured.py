"""schema.org data on a page: JSON-LD and microdata objects, and short normalised forms of
the types people look for (Article, Product; Recipe is recipes.py). Pure functions."""

from __future__ import annotations

import json
import re
from typing import Any

from distill_parser.html_text import lines, text
from distill_parser.metadata import http_url, parse_date, types_of

MAX_OBJECTS = 200
_CDATA = re.compile(r"^\s*(?://\s*)?(?:/\*\s*)?<!\[CDATA\[(?:\s*\*/)?|(?://\s*)?(?:/\*\s*)?\]\]>(?:\s*\*/)?\s*$")
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
ARTICLE_TYPES = {"article", "newsarticle", "blogposting", "reportagenewsarticle", "techarticle", "scholarlyarticle"}


def json_ld(doc: Any) -> list[dict[str, Any]]:
    """Every typed schema.org object in the page's JSON-LD, nested ones too (@graph, mainEntity,
    ItemList items, ...), outer objects first."""
    out: list[dict[str, Any]] = []
    if doc is None:
        return out
    for script in doc.iterfind(".//script"):
        if "ld+json" not in (script.get("type") or "").lower():
            continue
        data = _loads(script.text or "")
        if data is not None:
            _collect(data, out, 0)
    return out


def _loads(raw: str) -> Any:
    raw = _CDATA.sub("", raw.strip()).strip().removeprefix("<!--").removesuffix("-->").strip()
    if not raw:
        return None
    for attempt in (raw, _TRAILING_COMMA.sub(r"\1", raw)):
        try:
            return json.loads(attempt, strict=False)
        except ValueError:
            continue
    return None


def _collect(data: Any, out: list[dict[str, Any]], depth: int) -> None:
    if depth > 8 or len(out) >= MAX_OBJECTS:
        return
    if isinstance(data, list):
        for d in data:
            _collect(d, out, depth + 1)
    elif isinstance(data, dict):
        if "@type" in data:
            out.append(data)
        for k, v in data.items():
            if isinstance(v, dict | list) and k != "@context":
                _collect(v, out, depth + 1)


def microdata(doc: Any) -> list[dict[str, Any]]:
    """schema.org microdata items (itemscope/itemtype/itemprop), nested ones too, outer first."""
    if doc is None:
        return []
    out: list[dict[str, Any]] = []
    for el in doc.xpath("//*[@itemscope and @itemtype and not(@itemprop)]"):
        _collect(_md_item(el, 0), out, 0)
    return out


def _md_item(el: Any, depth: int) -> dict[str, Any]:
    types = [t.rstrip("/").rsplit("/", 1)[-1] for t in (el.get("itemtype") or "").split()]
    item: dict[str, Any] = {"@type": types[0] if len(types) == 1 else types, "@source": "microdata"}
    for prop in el.iterdescendants():
        if not isinstance(prop.tag, str) or prop.get("itemprop") is None:
            continue
        owner = prop.getparent()  # only properties whose nearest itemscope ancestor is `el`
        while owner is not None and owner is not el and owner.get("itemscope") is None:
            owner = owner.getparent()
        if owner is not el:
            continue
        val = _md_item(prop, depth + 1) if prop.get("itemscope") is not None and depth < 6 else _md_value(prop)
        for n in prop.get("itemprop").split():
            if n in item:
                if not isinstance(item[n], list):
                    item[n] = [item[n]]
                item[n].append(val)
            else:
                item[n] = val
    return item


def _md_value(prop: Any) -> str:
    tag = prop.tag
    if tag == "meta":
        return prop.get("content") or ""
    if tag in ("img", "source", "audio", "video", "embed", "iframe"):
        return prop.get("src") or prop.get("data-src") or ""
    if tag in ("a", "link", "area"):
        return prop.get("href") or ""
    if tag in ("time", "data", "meter"):
        return prop.get("datetime") or prop.get("value") or text(prop)
    if prop.get("content"):
        return prop.get("content")
    return "\n".join(lines(prop))  # lists and paragraphs keep their line breaks


def find(objects: list[dict[str, Any]], wanted: set[str]) -> dict[str, Any] | None:
    return next((o for o in objects if wanted & set(types_of(o))), None)


def _name(v: Any) -> str | None:
    if isinstance(v, list):
        v = v[0] if v else None
    if isinstance(v, dict):
        v = v.get("name")
    return " ".join(str(v).split()) if isinstance(v, str | int | float) and str(v).strip() else None


def _image(v: Any, base: str) -> str | None:
    if isinstance(v, list):
        return next((u for u in (_image(x, base) for x in v) if u), None)
    if isinstance(v, dict):
        v = v.get("url") or v.get("contentUrl")
    return http_url(v, base)


def article(o: dict[str, Any], base: str) -> dict[str, Any]:
    authors = o.get("author")
    names = [n for n in (_name(a) for a in (authors if isinstance(authors, list) else [authors])) if n]
    published = parse_date(o.get("datePublished"))
    modified = parse_date(o.get("dateModified"))
    return _compact(
        {
            "type": types_of(o)[0],
            "headline": _name(o.get("headline") or o.get("name")),
            "authors": names,
            "published": published.isoformat() if published else None,
            "modified": modified.isoformat() if modified else None,
            "publisher": _name(o.get("publisher")),
            "section": _name(o.get("articleSection")),
            "image": _image(o.get("image"), base),
        }
    )


def product(o: dict[str, Any], base: str) -> dict[str, Any]:
    offers = o.get("offers")
    offer = (offers[0] if offers else {}) if isinstance(offers, list) else (offers or {})
    if isinstance(offer, dict) and "offers" in offer and isinstance(offer["offers"], list | dict):  # AggregateOffer
        inner = offer["offers"]
        offer = {**offer, **((inner[0] if inner else {}) if isinstance(inner, list) else inner)}
    rating = o.get("aggregateRating") if isinstance(o.get("aggregateRating"), dict) else {}
    price = offer.get("price", offer.get("lowPrice")) if isinstance(offer, dict) else None
    return _compact(
        {
            "name": _name(o.get("name")),
            "brand": _name(o.get("brand")),
            "sku": _name(o.get("sku") or o.get("gtin13") or o.get("gtin") or o.get("mpn")),
            "description": _name(o.get("description")),
            "image": _image(o.get("image"), base),
            "price": _name(price),
            "currency": _name(offer.get("priceCurrency")) if isinstance(offer, dict) else None,
            "availability": (_name(offer.get("availability")) or "").rsplit("/", 1)[-1] or None
            if isinstance(offer, dict)
            else None,
            "rating": _name(rating.get("ratingValue")),
            "rating_count": _name(rating.get("ratingCount") or rating.get("reviewCount")),
        }
    )


def _compact(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in (None, "", [])}
