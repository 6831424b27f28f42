"""Distill's recipe structure, from whatever a model or the heuristic extractor produced.

The same keys the parser builds from schema.org JSON-LD (distill_parser.recipes.normalize):
title, ingredients, instructions, yields, prep/cook/total_time_minutes, image,
description, author, cuisine, category, source ("ai" here).
"""

from __future__ import annotations

import re
from typing import Any

TEXT_KEYS = ("title", "yields", "image", "description", "author", "cuisine", "category")
TIME_KEYS = ("prep_time_minutes", "cook_time_minutes", "total_time_minutes")
MAX_ITEMS = 100
MAX_TEXT = 2000

_ISO = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$", re.I)
_HOURS = re.compile(r"(\d+(?:[.,]\d+)?)\s*(?:h\b|hrs?\b|hours?\b)", re.I)
_MINS = re.compile(r"(\d+(?:[.,]\d+)?)\s*(?:m\b|mins?\b|minutes?\b)", re.I)
_NUM = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*$")


def minutes(v: Any) -> int:
    """Minutes from 25, "25", "25 minutes", "1 hr 20 mins", "PT1H20M" (0 when unreadable)."""
    if v is None or isinstance(v, bool):
        return 0
    if isinstance(v, int | float):
        return max(0, min(int(round(v)), 100_000))
    s = str(v).strip()
    if m := _ISO.match(s):
        d, h, mi, sec = (int(x or 0) for x in m.groups())
        return d * 1440 + h * 60 + mi + round(sec / 60)
    if m := _NUM.match(s):
        return max(0, min(int(round(float(m.group(1).replace(",", ".")))), 100_000))
    total = 0.0
    for h in _HOURS.finditer(s):
        total += float(h.group(1).replace(",", ".")) * 60
    for mi in _MINS.finditer(s):
        total += float(mi.group(1).replace(",", "."))
    return int(round(total))


def _text(v: Any) -> str:
    if v is None or isinstance(v, bool):
        return ""
    if isinstance(v, dict):
        v = v.get("text") or v.get("name") or ""
    if isinstance(v, list):
        return ", ".join(t for t in (_text(x) for x in v) if t)[:MAX_TEXT]
    return " ".join(str(v).split())[:MAX_TEXT]


def _lines(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        v = [x for x in re.split(r"\n+", v)]
    if isinstance(v, dict):
        v = [v]
    if not isinstance(v, list):
        return []
    out = []
    for x in v:
        t = _text(x)
        t = re.sub(r"^\s*(?:[-*•]+|\d{1,2}[.)])\s+", "", t)
        if t and t.lower() not in ("n/a", "none", "null"):
            out.append(t)
    return out[:MAX_ITEMS]


def normalize(d: dict[str, Any], *, title: str = "", source: str = "ai") -> dict[str, Any] | None:
    """The recipe dict, or None when there is no recipe in it (no ingredients and no steps)."""
    if not isinstance(d, dict) or d.get("is_recipe") is False:
        return None
    out: dict[str, Any] = {k: _text(d.get(k)) for k in TEXT_KEYS}
    out["title"] = out["title"] or title
    out["ingredients"] = _lines(d.get("ingredients"))
    out["instructions"] = _lines(d.get("instructions") or d.get("steps"))
    if not out["ingredients"] and not out["instructions"]:
        return None
    for k in TIME_KEYS:
        out[k] = minutes(d.get(k))
    if not out["total_time_minutes"]:
        out["total_time_minutes"] = out["prep_time_minutes"] + out["cook_time_minutes"]
    out["source"] = source
    order = ["title", "ingredients", "instructions", "yields", *TIME_KEYS, *TEXT_KEYS[2:], "source"]
    return {k: out[k] for k in order}
