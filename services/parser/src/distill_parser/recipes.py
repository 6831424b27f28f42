"""schema.org Recipe to Distill's recipe structure (the same keys the AI stage produces).

Real pages bend the vocabulary in every way; what is normalised here (general rules, never
per site): HTML and entities (double-encoded too) in any text, ingredient lists given as one
string with line breaks or as a stringified list, doubled brackets, bullets and checkboxes
before ingredients; instructions as a string, a list, HowToStep, HowToSection (flattened,
nested ones too), ItemList, HTML lists or paragraphs; ISO 8601 durations (also days, weeks
and decimals) and plain "45 minutes"; images as URL, list or ImageObject (made absolute);
authors as text, Person or list.
"""

from __future__ import annotations

import ast
import html as htmllib
import json
import re
from typing import Any

from distill_parser.metadata import http_url, types_of

_DUR = re.compile(
    r"^P(?:(?P<w>\d+(?:[.,]\d+)?)W)?(?:(?P<d>\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:[.,]\d+)?)H)?(?:(?P<m>\d+(?:[.,]\d+)?)M)?(?:(?P<s>\d+(?:[.,]\d+)?)S)?)?$",
    re.I,
)
_HOURS = re.compile(r"(\d+(?:[.,]\d+)?)\s*(?:h|hrs?|hours?|std\.?|stunden?|horas?|ore|heures?)\b", re.I)
_MINS = re.compile(r"(\d+(?:[.,]\d+)?)\s*(?:m|mins?|minutes?|minuten?|minutos?|minuti)\b", re.I)
_TAGS = re.compile(r"<[^>]+>")
_BLOCK_TAGS = re.compile(r"<\s*(?:br|/p|/li|/div|/h\d|p|li|div|h\d)\b[^>]*>", re.I)
_DOUBLE_PARENS = re.compile(r"\(\(([^()]*)\)\)")
_STEP_BREAK = re.compile(r"\n+|(?<=\.)\s{2,}")
_BULLET = re.compile(r"^(?:[•·▪▫◦‣⁃●○■□▢☐✓✔*–—-]+\s*)+")
MAX_ITEMS = 300
MAX_TEXT = 5000


def find_recipe(objects: list[dict[str, Any]], base: str = "") -> dict[str, Any] | None:
    """The first schema.org Recipe among `objects` with a title or ingredients, normalised."""
    for o in objects:
        if "recipe" in types_of(o):
            r = normalize(o, base)
            if r.get("title") or r.get("ingredients"):
                return r
    return None


def clean(s: Any) -> str:
    """Plain text from a value that may hold HTML, entities (even double-encoded) or a name."""
    if s is None or isinstance(s, bool):
        return ""
    if isinstance(s, dict):
        s = s.get("text") or s.get("name") or ""
    if isinstance(s, list):
        return ", ".join(c for c in (clean(x) for x in s) if c)
    t = str(s)
    for _ in range(2):  # &amp;frac12; -> &frac12; -> ½
        if "&" not in t:
            break
        t = htmllib.unescape(t)
    t = _TAGS.sub(" ", t)
    return re.sub(r"\s+", " ", t).strip()[:MAX_TEXT]


def minutes(v: Any) -> int:
    """Minutes in PT1H30M, P1DT2H, PT1.5H, 90, "45 minutes", "1 hr 20 mins" (0 when unreadable)."""
    if v is None or isinstance(v, bool):
        return 0
    if isinstance(v, int | float):
        return max(0, min(int(round(v)), 100_000))
    if isinstance(v, list):
        return minutes(v[0]) if v else 0
    if isinstance(v, dict):
        return minutes(v.get("maxValue") or v.get("value") or v.get("minValue"))
    s = str(v).strip()
    m = _DUR.match(s)
    if m and any(m.groupdict().values()):
        w, d, h, mi, sec = (float((m.group(k) or "0").replace(",", ".")) for k in ("w", "d", "h", "m", "s"))
        return int(round(w * 10080 + d * 1440 + h * 60 + mi + sec / 60))
    if s.replace(".", "", 1).isdigit():
        return int(round(float(s)))
    total = sum(float(x.replace(",", ".")) * 60 for x in _HOURS.findall(s))
    total += sum(float(x.replace(",", ".")) for x in _MINS.findall(s))
    return int(round(total))


def _image(v: Any, base: str) -> str:
    if isinstance(v, list):
        return next((u for u in (_image(x, base) for x in v) if u), "")
    if isinstance(v, dict):
        v = v.get("url") or v.get("contentUrl") or v.get("@id")
    if not isinstance(v, str):
        return ""
    return (http_url(v, base) if base else v.strip()) or ""


def _split_html(s: str) -> list[str]:
    return [c for c in (clean(p) for p in _BLOCK_TAGS.sub("\n", s).split("\n")) if c]


def instructions(v: Any, depth: int = 0) -> list[str]:
    """The steps, in order: sections flattened, each step's text once."""
    if depth > 6 or v is None:
        return []
    if isinstance(v, str):
        if _BLOCK_TAGS.search(v):
            return _split_html(v)
        return [c for c in (clean(p) for p in _STEP_BREAK.split(v)) if c]
    if isinstance(v, dict):
        kinds = set(types_of(v))
        if "itemListElement" in v and not ({"howtostep", "howtodirection"} & kinds and v.get("text")):
            return instructions(v["itemListElement"], depth + 1)
        body = clean(v.get("text") or v.get("description"))
        name = clean(v.get("name"))
        if not body:
            return [name] if name else []
        # A step's name is worth keeping when it is a heading of its own, not the text cut short.
        heading = name and name != body and not body.startswith(name.rstrip(".…: ").removesuffix("..."))
        return [name, body] if heading else [body]
    out: list[str] = []
    if isinstance(v, list):
        sections = [x for x in v if isinstance(x, dict) and "howtosection" in types_of(x)]
        for x in v:
            if len(sections) > 1 and x in sections and clean(x.get("name")):
                out.append(clean(x.get("name")))  # several sections: each one's name before its steps
            out.extend(instructions(x, depth + 1))
    return _dedupe(out)


def _dedupe(xs: list[str]) -> list[str]:
    out: list[str] = []
    for x in xs:
        if not out or out[-1] != x:
            out.append(x)
    return out[:MAX_ITEMS]


def _literal_list(s: str) -> list[Any] | None:
    """A list written into a string ("['1 egg', '2 leeks']"), as some sites' templates do."""
    s = s.strip()
    if not (s.startswith("[") and s.endswith("]")):
        return None
    for load in (json.loads, ast.literal_eval):
        try:
            v = load(s)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            continue
        if isinstance(v, list):
            return v
    return None


def ingredient(s: Any) -> str:
    """One ingredient line: no bullet or checkbox before it, ((note)) as (note)."""
    t = _BULLET.sub("", clean(s))
    return _DOUBLE_PARENS.sub(r"(\1)", t).strip()


def ingredients(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        lit = _literal_list(v)
        if lit is not None:
            return ingredients(lit)
        return [i for i in (ingredient(p) for p in (_split_html(v) if ("<" in v or "\n" in v) else [v])) if i]
    if isinstance(v, dict):
        return ingredients(v.get("text") or v.get("name"))
    out: list[str] = []
    if isinstance(v, list):
        for x in v:
            out.extend(ingredients(x) if isinstance(x, list | str) else [ingredient(x)])
    return [i for i in out if i][:MAX_ITEMS]


def _yields(v: Any) -> str:
    """What the recipe makes; a bare number is a number of servings."""
    if isinstance(v, list):
        vals = [clean(x) for x in v if clean(x)]
        y = max(vals, key=len) if vals else ""  # ["4", "4 servings"]: the most descriptive one
    else:
        y = clean(v)
    return f"{y} servings" if y.isdigit() else y


def _author(v: Any) -> str:
    if isinstance(v, list):
        return ", ".join(dict.fromkeys(a for a in (_author(x) for x in v) if a))
    if isinstance(v, dict):
        return clean(v.get("name"))
    return clean(v)


def _text_list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [clean(x) for x in v.split(",") if clean(x)]
    if isinstance(v, list):
        return [c for x in v for c in _text_list(x)]
    return [clean(v)]


def normalize(o: dict[str, Any], base: str = "") -> dict[str, Any]:
    prep, cook = minutes(o.get("prepTime")), minutes(o.get("cookTime"))
    return {
        "title": clean(o.get("name") or o.get("headline")),
        "ingredients": ingredients(o.get("recipeIngredient") or o.get("ingredients")),
        "instructions": instructions(o.get("recipeInstructions")),
        "yields": _yields(o.get("recipeYield") or o.get("yield")),
        "prep_time_minutes": prep,
        "cook_time_minutes": cook,
        "total_time_minutes": minutes(o.get("totalTime")) or prep + cook,
        "image": _image(o.get("image"), base),
        "description": clean(o.get("description")),
        "author": _author(o.get("author")),
        "cuisine": ", ".join(dict.fromkeys(_text_list(o.get("recipeCuisine")))),
        "category": ", ".join(dict.fromkeys(_text_list(o.get("recipeCategory")))),
        "source": "microdata" if o.get("@source") == "microdata" else "json-ld",
    }
