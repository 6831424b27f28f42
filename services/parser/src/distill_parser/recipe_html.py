"""A recipe from the page's HTML when its schema.org data has none (or lacks a part).

General rules, no site list: ingredients and steps are the list items (or lines) of the
element that names itself so in its class, id or itemprop (`wprm-recipe-ingredient`,
`ingredients`, `recipe-steps`, ...), or that follow a heading saying so ("Ingredients",
"Zutaten", "Method", "Zubereitung", "Modo de preparo", ...) up to the next heading of the
same rank. A recipe needs at least two ingredients and one step. Pure functions.
"""

from __future__ import annotations

import re
from typing import Any

from distill_parser import recipes
from distill_parser.html_text import SKIP, lines, text

_ING_ATTR = re.compile(r"ingredient|zutat|ingredi|składnik|malzeme|ингредиент", re.I)
_STEP_ATTR = re.compile(
    r"instruction|direction|method|preparation|zubereitung|anleitung|steps?\b|step[-_]|preparo|procedure|"
    r"procedimiento|elaboraci|bereiding|fremgangs",
    re.I,
)
_NAME_ATTR = re.compile(r"recipe[-_]?(?:name|title)|recipe__title|recipe-header__title", re.I)
_ING_HEAD = re.compile(
    r"^(?:ingredients?|ingredientes|ingredienti|ingrédients|zutaten|ingredienser|ingrediënten|składniki|"
    r"malzemeler|ингредиенты|what you(?:'|’)?ll need|you(?:'|’)?ll need|you will need)\b",
    re.I,
)
_STEP_HEAD = re.compile(
    r"^(?:instructions?|directions?|method|preparation|steps|how to make(?: it)?|zubereitung|anleitung|"
    r"modo de preparo|preparo|preparación|preparazione|procedimento|préparation|instrucciones|elaboración|"
    r"bereiding|fremgangsmåde|sådan gør du|yapılışı|hazırlanışı|przygotowanie|приготовление|способ приготовления)\b"
    r"|\b(?:maken|bereiden|zubereiten|machen|making)$",  # "Abrikozenvlaai maken", "Making the dough"
    re.I,
)
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_RANK = {h: n for n, h in enumerate(HEADINGS, 1)}


def _attrs(el: Any) -> str:
    return " ".join(el.get(a) or "" for a in ("class", "id", "itemprop"))


def _items(container: Any, *, steps: bool) -> list[str]:
    lis = [li for li in container.iter("li") if li.find(".//li") is None]
    if lis:
        return [t for t in (text(li) for li in lis) if t]
    if steps:
        ps = [text(p) for p in container.iter("p")]
        if len([p for p in ps if p]) > 1:
            return [p for p in ps if p]
    return lines(container)


def _by_attribute(doc: Any, pattern: re.Pattern[str], *, steps: bool) -> list[str]:
    """Items of the outermost element named for the part; the one with most items wins."""
    best: list[str] = []
    for el in doc.iter():
        if not isinstance(el.tag, str) or el.tag in SKIP or el.tag in ("body", "html", "head", "a", "span"):
            continue
        if not pattern.search(_attrs(el)):
            continue
        if any(isinstance(a.tag, str) and pattern.search(_attrs(a)) for a in el.iterancestors()):
            continue  # an inner part of a larger container already counted
        items = _items(el, steps=steps) if el.tag != "li" else [text(el)]
        if el.tag == "li":  # a lone item named for the part: collect its named siblings
            parent = el.getparent()
            items = [text(s) for s in parent if isinstance(s.tag, str) and pattern.search(_attrs(s))]
        items = [i for i in items if i and len(i) < 2000]
        if len(items) > len(best):
            best = items
    return best


def _after_heading(doc: Any, pattern: re.Pattern[str], *, steps: bool, after_ingredients: bool = False) -> list[str]:
    """Items between a heading that names the part and the next heading of the same rank or higher
    (only headings after the ingredients, when `after_ingredients`)."""
    seen = not after_ingredients
    for h in doc.iter(*HEADINGS, "strong", "b", "p", "dt", "ul", "ol", "div"):
        if not seen:
            seen = bool(_ING_ATTR.search(_attrs(h)) or (h.tag in HEADINGS and _ING_HEAD.search(text(h)[:60])))
            continue
        if h.tag in ("ul", "ol", "div") or _surely_longer(h, 60):
            continue
        label = text(h)
        if not label or len(label) > 60 or not pattern.search(label.strip(" :")):
            continue
        rank = _RANK.get(h.tag, 7)
        anchor = h
        if h.tag in ("strong", "b") and h.getparent() is not None and h.getparent().tag == "p":
            anchor = h.getparent()
        items: list[str] = []
        for sib in anchor.itersiblings():
            if not isinstance(sib.tag, str) or sib.tag in SKIP:
                continue
            sib_rank = _RANK.get(sib.tag)
            if sib_rank is not None and sib_rank <= rank:
                break
            if _is_label(sib):
                break
            items.extend(_items(sib, steps=steps))
        items = [i for i in items if len(i) < 2000]
        if items:
            return items
    return []


def _surely_longer(el: Any, n: int) -> bool:
    """text(el) is longer than `n`: its own first text alone holds more than `n` characters
    that cleaning keeps (not white space; no entity that unescaping could shorten, no
    zero-width character that cleaning turns into a space)."""
    t = el.text
    if not t or len(t) <= n or "&" in t:
        return False
    if not t.isascii() and any(c in t for c in "\u200b\u200c\u200d\ufeff"):
        return False
    return len("".join(t.split())) > n


def _is_label(el: Any) -> bool:
    """A paragraph that is only a label for the next part ("Method:")."""
    t = text(el)
    return bool(t) and len(t) < 40 and bool(_STEP_HEAD.search(t.strip(" :")) or _ING_HEAD.search(t.strip(" :")))


def _title(doc: Any) -> str:
    for el in doc.iter():
        if isinstance(el.tag, str) and el.tag not in SKIP and _NAME_ATTR.search(_attrs(el)):
            t = text(el)
            if t and len(t) < 200:
                return t
    h1 = doc.find(".//h1")
    return text(h1) if h1 is not None else ""


def from_html(doc: Any) -> dict[str, Any]:
    """The parts of a recipe the page's HTML shows: title, ingredients, instructions (any may be empty)."""
    if doc is None:
        return {}
    ingredients = _by_attribute(doc, _ING_ATTR, steps=False) or _after_heading(doc, _ING_HEAD, steps=False)
    steps = _by_attribute(doc, _STEP_ATTR, steps=True) or _after_heading(doc, _STEP_HEAD, steps=True)
    return {
        "title": _title(doc),
        "ingredients": [i for i in (recipes.ingredient(x) for x in ingredients) if i][: recipes.MAX_ITEMS],
        "instructions": steps[: recipes.MAX_ITEMS],
    }


def complete(recipe: dict[str, Any] | None, doc: Any) -> dict[str, Any] | None:
    """The schema.org recipe with what it lacks read from the HTML, or a recipe read from the
    HTML alone (None when the page shows none). Instructions given as one block in the data
    while the page lists several steps with more text are taken from the page."""
    if recipe is not None and recipe.get("ingredients") and len(recipe.get("instructions") or []) > 1:
        return recipe
    found = from_html(doc)
    if recipe is None:
        if len(found.get("ingredients", [])) < 2 or not found.get("instructions"):
            return None
        base = recipes.normalize({})
        return {**base, **found, "source": "html"}
    merged = dict(recipe)
    if not merged.get("ingredients") and found.get("ingredients"):
        merged["ingredients"] = found["ingredients"]
    mine, theirs = merged.get("instructions") or [], found.get("instructions") or []
    if not mine and not theirs and merged.get("title"):
        # Magazine pages: the recipe's name as a heading, then its method in paragraphs.
        named = re.compile(rf"^{re.escape(merged['title'].strip())}$", re.I)
        theirs = _after_heading(doc, named, steps=True, after_ingredients=True)
    if not mine or (len(mine) == 1 and len(theirs) > 1 and len(" ".join(theirs)) > len(mine[0])):
        merged["instructions"] = theirs or mine
    return merged
