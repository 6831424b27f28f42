"""Page metadata from the parsed HTML: title, byline, date, language, canonical URL, OpenGraph,
thumbnail (pure functions over an lxml tree and the page's schema.org objects)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

# schema.org types whose author/date/language describe the page itself.
PAGE_TYPES = {
    "article",
    "newsarticle",
    "blogposting",
    "reportagenewsarticle",
    "techarticle",
    "scholarlyarticle",
    "recipe",
    "webpage",
    "product",
    "howto",
    "videoobject",
}
_LANG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,3}$")
_DATE_META = (
    "article:published_time",
    "og:published_time",
    "datepublished",
    "date",
    "dc.date",
    "dc.date.issued",
    "dcterms.date",
    "dcterms.created",
    "pubdate",
    "publish-date",
    "publish_date",
    "parsely-pub-date",
    "sailthru.date",
)
_AUTHOR_META = ("author", "article:author", "dc.creator", "dcterms.creator", "parsely-author", "byl", "sailthru.author")


def types_of(obj: dict[str, Any]) -> list[str]:
    """An object's schema.org types, lower-case and without the vocabulary URL."""
    t = obj.get("@type")
    return [str(x).rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower() for x in (t if isinstance(t, list) else [t]) if x]


def http_url(value: Any, base: str) -> str | None:
    """An absolute http(s) URL from a (possibly relative) reference, or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        u = urljoin(base, value.strip())
        return u if urlsplit(u).scheme in ("http", "https") else None
    except ValueError:
        return None


def language_tag(value: Any) -> str | None:
    """A BCP 47-looking tag (en, en-GB, pt-BR, zh-Hant-TW) from lang/og:locale values, else None."""
    if not isinstance(value, str):
        return None
    v = value.strip().replace("_", "-").split(",")[0].strip()
    if not _LANG.match(v):
        return None
    head, *rest = v.split("-")
    return "-".join([head.lower(), *[r.upper() if len(r) == 2 else r for r in rest]])


def parse_date(v: Any) -> datetime | None:
    """A timezone-aware datetime from ISO 8601, 2012/10/10, RFC 2822 and similar, or None."""
    if not v or not isinstance(v, str | int | float):
        return None
    s = str(v).strip()
    d: datetime | None = None
    try:
        d = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        for fmt, n in (("%Y-%m-%d", 10), ("%Y/%m/%d", 10), ("%d.%m.%Y", 10), ("%Y%m%d", 8)):
            try:
                d = datetime.strptime(s[:n], fmt)
                break
            except ValueError:
                continue
        if d is None:
            try:
                d = parsedate_to_datetime(s)
            except (TypeError, ValueError, IndexError):
                return None
    if not 1900 <= d.year <= 2200:
        return None
    return d if d.tzinfo is not None else d.replace(tzinfo=UTC)


def _names(v: Any) -> list[str]:
    if isinstance(v, list):
        return [n for x in v for n in _names(x)]
    if isinstance(v, dict):
        v = v.get("name")
    if isinstance(v, str) and v.strip() and not v.strip().startswith(("http://", "https://")):
        return [" ".join(v.split())]
    return []


def page_metadata(doc: Any, url: str, objects: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything the page says about itself; `objects` are its schema.org objects."""
    out: dict[str, Any] = {"opengraph": {}}
    if doc is None:
        return out
    og: dict[str, str] = {}
    meta: dict[str, str] = {}
    for m in doc.iterfind(".//meta"):
        key = (m.get("property") or m.get("name") or m.get("itemprop") or m.get("http-equiv") or "").strip().lower()
        val = (m.get("content") or "").strip()
        if key and val:
            (og if key.startswith(("og:", "article:", "twitter:")) else meta).setdefault(key, val)
    out["opengraph"] = og
    page = [o for o in objects if PAGE_TYPES & set(types_of(o))]

    title = og.get("og:title") or og.get("twitter:title")
    if not title:
        t = doc.find(".//title")
        title = t.text_content() if t is not None else None
    if not title:
        h1 = doc.find(".//h1")
        title = h1.text_content() if h1 is not None else None
    out["title"] = " ".join(title.split()) if title else None
    out["description"] = og.get("og:description") or meta.get("description") or og.get("twitter:description")
    out["site_name"] = og.get("og:site_name") or meta.get("application-name")
    out["image"] = next(
        (
            u
            for u in (
                http_url(og.get(k), url) for k in ("og:image", "og:image:secure_url", "og:image:url", "twitter:image")
            )
            if u
        ),
        None,
    )
    authors = [n for o in page for n in _names(o.get("author"))]
    authors += [n for k in _AUTHOR_META for n in _names(meta.get(k) or og.get(k))]
    out["author"] = authors[0] if authors else None
    dates = [o.get("datePublished") for o in page] + [meta.get(k) or og.get(k) for k in _DATE_META]
    t_el = doc.find(".//time[@datetime]")
    dates.append(t_el.get("datetime") if t_el is not None else None)
    out["published"] = next((d for d in (parse_date(x) for x in dates) if d is not None), None)
    root = doc.getroottree().getroot()
    langs = [root.get("lang"), root.get("xml:lang"), meta.get("content-language"), og.get("og:locale")]
    langs += [o.get("inLanguage") for o in page]
    out["language"] = next((t for t in (language_tag(x) for x in langs) if t), None)
    canonical = None
    for link in doc.iterfind(".//link"):
        rels = (link.get("rel") or "").lower().split()
        if "canonical" in rels:
            canonical = http_url(link.get("href"), url)
            if canonical:
                break
    out["canonical"] = canonical or http_url(og.get("og:url"), url)
    return out
