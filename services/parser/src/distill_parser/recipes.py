"""schema.org Recipe to Distill's recipe structure (the same one the AI stage produces)."""

from __future__ import annotations

import html as htmllib
import re
from typing import Any

_DUR = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
    re.I,
)
_TAGS = re.compile(r"<[^>]+>")


def _types(obj: dict[str, Any]) -> list[str]:
    t = obj.get("@type")
    types = t if isinstance(t, list) else [t]
    return [str(x).rsplit("/", 1)[-1].lower() for x in types if x]


def find_recipe(objects: list[dict[str, Any]]) -> dict[str, Any] | None:
    for o in objects:
        if "recipe" in _types(o):
            r = normalize(o)
            if r.get("title") or r.get("ingredients"):
                return r
    return None


def clean(s: Any) -> str:
    if s is None:
        return ""
    if isinstance(s, dict):
        s = s.get("text") or s.get("name") or ""
    t = htmllib.unescape(_TAGS.sub(" ", str(s)))
    return re.sub(r"\s+", " ", t).strip()


def minutes(v: Any) -> int:
    """Minutes in an ISO 8601 duration such as PT1H30M (0 when absent or unreadable)."""
    if not v:
        return 0
    if isinstance(v, int | float):
        return int(v)
    m = _DUR.match(str(v).strip())
    if not m:
        return 0
    d, h, mi, s = (float(m.group(k) or 0) for k in ("d", "h", "m", "s"))
    return int(round(d * 1440 + h * 60 + mi + s / 60))


def _image(v: Any) -> str:
    if isinstance(v, list):
        return _image(v[0]) if v else ""
    if isinstance(v, dict):
        return str(v.get("url") or v.get("contentUrl") or v.get("@id") or "")
    return str(v or "")


def _instructions(v: Any) -> list[str]:
    out: list[str] = []
    if isinstance(v, str):
        parts = [p for p in re.split(r"\n+|(?<=\.)\s{2,}", htmllib.unescape(_TAGS.sub("\n", v)))]
        return [clean(p) for p in parts if clean(p)]
    if isinstance(v, dict):
        if "itemListElement" in v:
            return _instructions(v["itemListElement"])
        t = clean(v.get("text") or v.get("name"))
        return [t] if t else []
    if isinstance(v, list):
        for x in v:
            out.extend(_instructions(x))
    return out


def _yields(v: Any) -> str:
    if isinstance(v, list):
        vals = [clean(x) for x in v if clean(x)]
        # ["4", "4 servings"]: the most descriptive one
        return max(vals, key=len) if vals else ""
    s = clean(v)
    return s


def _author(v: Any) -> str:
    if isinstance(v, list):
        return ", ".join(a for a in (_author(x) for x in v) if a)
    if isinstance(v, dict):
        return clean(v.get("name"))
    return clean(v)


def _text_list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [clean(x) for x in v.split(",") if clean(x)]
    if isinstance(v, list):
        return [clean(x) for x in v if clean(x)]
    return [clean(v)]


def normalize(o: dict[str, Any]) -> dict[str, Any]:
    ingredients = o.get("recipeIngredient") or o.get("ingredients") or []
    if isinstance(ingredients, str):
        ingredients = [ingredients]
    return {
        "title": clean(o.get("name") or o.get("headline")),
        "ingredients": [clean(x) for x in ingredients if clean(x)],
        "instructions": _instructions(o.get("recipeInstructions")),
        "yields": _yields(o.get("recipeYield") or o.get("yield")),
        "prep_time_minutes": minutes(o.get("prepTime")),
        "cook_time_minutes": minutes(o.get("cookTime")),
        "total_time_minutes": minutes(o.get("totalTime")) or (minutes(o.get("prepTime")) + minutes(o.get("cookTime"))),
        "image": _image(o.get("image")),
        "description": clean(o.get("description")),
        "author": _author(o.get("author")),
        "cuisine": ", ".join(_text_list(o.get("recipeCuisine"))),
        "category": ", ".join(_text_list(o.get("recipeCategory"))),
        "source": "json-ld" if "@context" in o or "@id" in o else "schema.org",
    }
