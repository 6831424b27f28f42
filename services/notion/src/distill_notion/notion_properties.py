"""Page properties from an item's results, typed by the target database's schema (pure).

Distill fills five properties, each renamable per deployment (DISTILL_NOTION_PROPERTY_NAMES):

    title       Name        (title)         the page title
    url         URL         (url)           the source
    tags        Tags        (multi_select)  the keywords
    summary     Summary     (rich_text)     the summary
    distill_id  Distill ID  (rich_text)     the item id: what makes exports idempotent

A task adds or overrides properties by name (`export.properties`, string values that are
converted to the property's type). Values respect Notion's limits: rich text split at
2,000 characters and at most 100 elements, URLs at most 2,000 characters, at most 100
multi_select options whose names (no commas) are at most 100 characters.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from distill_notion.notion_blocks import MAX_RICH_TEXT, rich_text, safe_url

FIELDS = ("title", "url", "tags", "summary", "distill_id")
DEFAULT_NAMES = {"title": "Name", "url": "URL", "tags": "Tags", "summary": "Summary", "distill_id": "Distill ID"}
MAX_OPTIONS = 100
MAX_OPTION_NAME = 100
MAX_EMAIL = 200
MAX_PHONE = 200

_HEX32 = re.compile(r"([0-9a-fA-F]{32})$")


class SchemaError(ValueError):
    """The target database lacks a property Distill needs, or a value does not fit its type."""


def normalize_id(value: str) -> str:
    """A Notion id (32 hex digits, dashes optional, or a notion.so URL) as a dashed lower-case UUID."""
    raw = (value or "").strip()
    candidate = raw.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1].replace("-", "")
    m = _HEX32.search(candidate)
    if not m:
        raise ValueError(
            f"{raw!r} is not a Notion id: expected 32 hexadecimal digits (dashes allowed) or the database's URL"
        )
    h = m.group(1).lower()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def option_name(s: str) -> str:
    """A select option name Notion accepts: no commas, at most 100 characters, trimmed."""
    s = re.sub(r"\s+", " ", s.replace(",", " ")).strip()
    return s[:MAX_OPTION_NAME].rstrip()


def options(values: list[str]) -> list[dict[str, str]]:
    """At most 100 distinct multi_select options, in order."""
    seen: set[str] = set()
    out = []
    for v in values:
        name = option_name(str(v))
        if name and name.lower() not in seen:
            seen.add(name.lower())
            out.append({"name": name})
        if len(out) == MAX_OPTIONS:
            break
    return out


def _truthy(s: str) -> bool:
    v = s.strip().lower()
    if v in ("1", "true", "yes", "y", "on", "checked", "x"):
        return True
    if v in ("0", "false", "no", "n", "off", "unchecked", ""):
        return False
    raise ValueError(f"{s!r} is not a yes/no value")


def value(ptype: str, raw: Any, name: str = "") -> dict[str, Any]:
    """A property value of type `ptype` from a Python value or a string."""
    label = f"property {name!r}" if name else "the property"
    if ptype in ("title", "rich_text"):
        text = ", ".join(map(str, raw)) if isinstance(raw, list) else str(raw or "")
        return {ptype: rich_text(text, max_elements=MAX_RICH_TEXT) if text else []}
    if ptype == "url":
        return {"url": safe_url(str(raw)) if raw else None}
    if ptype == "multi_select":
        vals = raw if isinstance(raw, list) else [v for v in str(raw or "").split(",")]
        return {"multi_select": options(vals)}
    if ptype in ("select", "status"):
        first = raw[0] if isinstance(raw, list) and raw else raw
        name_ = option_name(str(first or ""))
        return {ptype: {"name": name_} if name_ else None}
    if ptype == "number":
        try:
            return {"number": None if raw in (None, "") else float(raw)}
        except (TypeError, ValueError):
            raise SchemaError(f"{label} is a number, and {raw!r} is not one") from None
    if ptype == "checkbox":
        try:
            return {"checkbox": raw if isinstance(raw, bool) else _truthy(str(raw))}
        except ValueError as e:
            raise SchemaError(f"{label} is a checkbox: {e}") from None
    if ptype == "date":
        s = raw.isoformat() if isinstance(raw, date | datetime) else str(raw or "").strip()
        try:
            datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            raise SchemaError(f"{label} is a date, and {raw!r} is not an ISO 8601 date") from None
        return {"date": {"start": s}}
    if ptype == "email":
        s = str(raw or "").strip()
        if len(s) > MAX_EMAIL:
            raise SchemaError(f"{label} is an email address longer than {MAX_EMAIL} characters")
        return {"email": s or None}
    if ptype == "phone_number":
        s = str(raw or "").strip()
        if len(s) > MAX_PHONE:
            raise SchemaError(f"{label} is a phone number longer than {MAX_PHONE} characters")
        return {"phone_number": s or None}
    raise SchemaError(f"{label} is of type {ptype}, which Distill cannot set")


def title_property(schema: dict[str, str]) -> str | None:
    return next((n for n, t in schema.items() if t == "title"), None)


def build(
    doc: dict[str, Any],
    schema: dict[str, str],
    names: dict[str, str] | None = None,
    extra: dict[str, str] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """(properties, notes): the page's property values, and what was left out and why.

    `schema` maps the target's property names to their types. The title goes to the
    configured title property, or to the database's title property when it is named
    otherwise. The Distill ID property must exist (it is how a re-run finds the page);
    other missing properties are skipped with a note. `extra` (the task's
    `export.properties`) must name existing properties; it overrides Distill's values.
    """
    names = {**DEFAULT_NAMES, **(names or {})}
    props: dict[str, Any] = {}
    notes: list[str] = []
    id_name = names["distill_id"]
    if schema.get(id_name) != "rich_text":
        have = f"a {schema[id_name]} property" if id_name in schema else "no such property"
        raise SchemaError(
            f"the Notion database needs a text property {id_name!r} to hold Distill's item id (it has {have}); "
            "add it, or name another with DISTILL_NOTION_PROPERTY_NAMES"
        )
    title_name = names["title"] if schema.get(names["title"]) == "title" else title_property(schema)
    values = {
        "title": doc.get("title") or doc.get("url") or "Untitled",
        "url": doc.get("url"),
        "tags": list(doc.get("keywords") or []),
        "summary": doc.get("summary") or "",
        "distill_id": str(doc["item_id"]),
    }
    for field in FIELDS:
        prop = title_name if field == "title" else names[field]
        if not prop or prop not in schema:
            notes.append(f"no {field} property {names[field]!r} in the database: left out")
            continue
        if field != "title" and schema[prop] == "title":
            notes.append(f"{field} property {prop!r} is the title: left out")
            continue
        try:
            props[prop] = value(schema[prop], values[field], prop)
        except SchemaError as e:
            notes.append(f"{e}: left out")
    for prop, raw in (extra or {}).items():
        if prop not in schema:
            known = ", ".join(sorted(schema)) or "none"
            raise SchemaError(
                f"export.properties names {prop!r}, which the Notion database does not have (it has: {known})"
            )
        props[prop] = value(schema[prop], raw, prop)
    return props, notes


def distill_id_filter(names: dict[str, str] | None, item_id: str) -> dict[str, Any]:
    """The query filter that finds the page carrying `item_id`."""
    prop = {**DEFAULT_NAMES, **(names or {})}["distill_id"]
    return {"property": prop, "rich_text": {"equals": str(item_id)}}
