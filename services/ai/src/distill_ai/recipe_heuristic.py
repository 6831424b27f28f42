"""A recipe from free text without a model (the local provider's extract_recipe).

Recipe posts (an Instagram caption, a blog without JSON-LD) mostly follow one shape:
a title line, an "Ingredients" list with quantities and units, a "Method" of numbered or
imperative steps, and lines such as "Serves 4" or "Prep: 10 min". We read that shape
line by line: section headings switch between ingredients and steps; outside sections a
line is an ingredient when it starts with a quantity (and is short or names a unit) and a
step when it is numbered or starts with a cooking verb. No recipe (None) unless there are
at least two ingredients and a step, or three ingredients under an ingredients heading.
"""

from __future__ import annotations

import re
from typing import Any

from distill_ai import recipes

_BULLET = re.compile(r"^\s*(?:[-*•·▪◦‣–—▢☐✓✔➤►▶️🔸🔹]+\s*)")
_NUMBERED = re.compile(r"^\s*(?:step\s*)?(\d{1,2})\s*(?:[.):-]|️⃣)\s*", re.I)
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d\u20e3]+",
)
_HASHTAG = re.compile(r"(?:^|\s)#[\w-]+")
_ING_HEAD = re.compile(
    r"^(?:ingredients?|you(?:'|’)?ll need|what you(?:'|’)?ll need|what you need|shopping list|for the [\w ]{2,30})"
    r"\s*(?:\([^)]*\))?\s*:?\s*(?P<rest>.*)$",
    re.I,
)
_STEP_HEAD = re.compile(
    r"^(?:method|instructions?|directions?|steps?|preparation|how to make(?: it)?|to make it|recipe)"
    r"\s*:?\s*(?P<rest>.*)$",
    re.I,
)
_INLINE_HEAD = re.compile(
    r"(?<=\S)\s+(?=(?:ingredients?|you(?:'|’)?ll need|method|instructions?|directions?)\s*:)", re.I
)
_SENTENCE_BREAK = re.compile(r"(?<=\.)\s+(?=[A-Z])")
_OTHER_HEAD = re.compile(r"^(?:notes?|tips?|storage|nutrition|equipment|serving suggestions?)\s*:?\s*$", re.I)

UNITS = (
    r"g|gr|grams?|kg|kilos?|mg|ml|millilit(?:er|re)s?|cl|dl|l|lit(?:er|re)s?|oz|ounces?|lbs?|pounds?|cups?|c\.|"
    r"tbsp|tbs|tbl|tablespoons?|tsp|teaspoons?|pinch(?:es)?|dash(?:es)?|cloves?|cans?|tins?|jars?|packets?|"
    r"packs?|sticks?|slices?|pieces?|bunch(?:es)?|handfuls?|sprigs?|stalks?|heads?|leaves|knobs?|drops?|"
    r"sheets?|fillets?|inch(?:es)?|cm|quarts?|pints?|large|medium|small"
)
_QTY = r"(?:\d+\s+\d/\d|\d+(?:[.,/]\d+)?(?:\s*-\s*\d+(?:[.,/]\d+)?)?|[½¼¾⅓⅔⅛]|a|an|one|two|three|four|a few|few)"
_ING = re.compile(rf"^{_QTY}\s*(?:x\s*)?(?P<unit>(?:{UNITS})\b\.?)?", re.I)
_ING_WORDS_NO_QTY = re.compile(r"^(?:salt|pepper|salt (?:&|and) pepper|oil|olive oil|butter|water)\b", re.I)

IMPERATIVE = frozenset(
    """add arrange bake beat blanch blend boil braise bring brown brush chill chop coat combine cook cool cover crack
    crush cut deglaze dice dip divide drain drizzle dust fill finish flip fold fry garnish grate grease grill heat
    knead layer let line marinate mash measure melt mince mix pat peel place plate poach pour preheat press put reduce
    refrigerate remove rest rinse roast roll rub saute sauté scatter scoop sear season serve set shape shred sift
    simmer slice soak spoon spread sprinkle squeeze steam stir strain stuff taste thicken toast top toss transfer
    turn warm whip whisk wrap""".split()
)
CUISINES = (
    "italian french mexican indian thai chinese japanese korean vietnamese greek spanish turkish lebanese moroccan "
    "american british german middle eastern mediterranean caribbean ethiopian persian"
).split()
CATEGORIES = (
    "breakfast brunch lunch dinner dessert snack appetizer starter side salad soup drink cocktail smoothie bread "
    "baking cake cookies pasta"
).split()

_YIELD = re.compile(
    r"\b(?:serves|servings?|portions?|yields?|makes)\s*:?\s*(?P<n>\d+(?:\s*(?:-|to)\s*\d+)?)(?P<what>\s+[a-z]+)?", re.I
)
_TIMES = {
    "prep_time_minutes": re.compile(r"\bprep(?:aration)?(?:\s*time)?\s*[:\-]?\s*(?P<v>\d[^,;|\n]*)", re.I),
    "cook_time_minutes": re.compile(r"\b(?:cook(?:ing)?|bake|baking)(?:\s*time)?\s*[:\-]\s*(?P<v>\d[^,;|\n]*)", re.I),
    "total_time_minutes": re.compile(r"\b(?:total(?:\s*time)?\s*[:\-]?|ready in|takes)\s*(?P<v>\d[^,;|\n]*)", re.I),
}


def _clean(line: str) -> str:
    line = _EMOJI.sub(" ", line)
    line = _HASHTAG.sub(" ", line)
    return " ".join(line.split()).strip()


def _strip_marker(line: str) -> str:
    line = _NUMBERED.sub("", line, count=1)
    return _BULLET.sub("", line, count=1).strip()


def _is_ingredient(line: str) -> bool:
    s = _strip_marker(line)
    m = _ING.match(s)
    if not m or len(s) > 120 or s.split()[0].lower() in IMPERATIVE:
        return False
    words = s.split()
    if m.group("unit"):
        return len(words) >= 2
    return 2 <= len(words) <= 8 and bool(re.match(r"^[\d½¼¾⅓⅔⅛]", s))


def _is_step(line: str) -> bool:
    if _NUMBERED.match(line) and len(_strip_marker(line).split()) >= 3:
        return True
    first = _strip_marker(line).split(" ", 1)[0].lower().strip(",.:")
    return first in IMPERATIVE and len(line.split()) >= 3


_CUE_WORDS = re.compile(
    r"\b(?:ingredients?|recipe|method|instructions|directions|serves|servings|preheat|tbsp|tsp|tablespoons?|"
    r"teaspoons?|cups? of|grams?|oven|simmer|whisk|saut[ée]|bake|baking)\b",
    re.I,
)


def has_recipe_cues(text: str) -> bool:
    """Whether the text could hold a recipe at all: cooking words, or lines that read as ingredients.

    Cheap, and deliberately generous: it only spares a model the question (and a small model
    the chance to invent a recipe) for text that is plainly about something else."""
    if len(_CUE_WORDS.findall(text[:20_000])) >= 2:
        return True
    return sum(1 for line in text[:20_000].splitlines() if _is_ingredient(_clean(line))) >= 2


def _title(raw: list[str], used: set[int]) -> tuple[str, int]:
    """The first short unused line up to an emoji, "!", "." or " - " (and its index)."""
    for i, line in enumerate(raw[:5]):
        if i in used or _ING_HEAD.match(line) or _STEP_HEAD.match(line):
            continue
        head = _clean(re.split(r"[!.|:]| - | – |" + _EMOJI.pattern, line, maxsplit=1)[0])
        if 1 <= len(head.split()) <= 12:
            return head, i
    return "", -1


def _lines(text: str) -> list[str]:
    """Lines, with inline headings ("... You'll need: a, b. Mix ...") put on lines of their own."""
    out: list[str] = []
    for line in text.splitlines():
        for part in _INLINE_HEAD.sub("\n", line).split("\n"):
            if not _clean(part):
                continue
            m = _ING_HEAD.match(_clean(part))
            if m and m.group("rest"):  # "You'll need: a, b, c. Mash the bananas..." ends at the sentence
                out.extend(p for p in _SENTENCE_BREAK.split(part, maxsplit=1) if p.strip())
            else:
                out.append(part)
    return out


def _split_inline(rest: str) -> list[str]:
    return [p.strip() for p in re.split(r",\s*(?![^()]*\))|;\s*", rest) if p.strip()]


def extract(text: str, title: str = "") -> dict[str, Any] | None:
    """The recipe in the text, or None when it holds none."""
    raw = _lines(text)
    lines = [_clean(x) for x in raw]
    ingredients: list[str] = []
    steps: list[str] = []
    used: set[int] = set()
    section = ""
    headed = False
    for i, line in enumerate(lines):
        if m := _ING_HEAD.match(line):
            section, headed = "ing", True
            used.add(i)
            ingredients.extend(_split_inline(m.group("rest").rstrip(".")))
            continue
        if m := _STEP_HEAD.match(line):
            section = "steps"
            used.add(i)
            if m.group("rest"):
                steps.append(m.group("rest"))
            continue
        if _OTHER_HEAD.match(line):
            section = "other"
            used.add(i)
            continue
        if section == "ing" and not _is_step(line) and (len(line.split()) <= 14 or _is_ingredient(line)):
            ingredients.append(_strip_marker(line))
            used.add(i)
        elif section == "steps" and not _YIELD.search(line):
            steps.append(_strip_marker(line))
            used.add(i)
        elif section != "other" and _is_ingredient(line):
            ingredients.append(_strip_marker(line))
            used.add(i)
        elif section != "other" and _is_step(line):
            steps.append(_strip_marker(line))
            used.add(i)
    if len(steps) == 1:  # one paragraph of method: one step per sentence
        steps = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", steps[0]) if s.strip()]
    ingredients = [x for x in ingredients if x]
    enough = (len(ingredients) >= 2 and steps) or (headed and len(ingredients) >= 3)
    if not enough:
        return None
    flat = "\n".join(raw)
    found_title, at = _title(raw, used)
    title = found_title or title  # a caption's first line names the dish better than the page title
    # Cuisine and category only from hashtags and the title ("per side" is no side dish).
    tags = " ".join(t.strip().lower() for t in _HASHTAG.findall(flat)) + " " + title.lower()
    d: dict[str, Any] = {
        "title": title,
        "ingredients": ingredients,
        "instructions": steps,
        "yields": _yields(flat),
        "description": _description(lines, used | {at}),
        "cuisine": next((c.title() for c in CUISINES if re.search(rf"\b#?{c}", tags)), ""),
        "category": next((c.title() for c in CATEGORIES if re.search(rf"\b#?{c}\b", tags)), ""),
    }
    for key, rx in _TIMES.items():
        m = rx.search(flat)
        d[key] = recipes.minutes(m.group("v")) if m else 0
    return recipes.normalize(d, title=title, source="ai")


def _yields(text: str) -> str:
    m = _YIELD.search(text)
    if not m:
        return ""
    what = (m.group("what") or "").strip().lower()
    if not what or what in ("people", "persons", "portions", "servings"):
        what = "servings"
    return f"{m.group('n')} {what}"


def _description(lines: list[str], used: set[int]) -> str:
    for i, line in enumerate(lines):
        if i in used or len(line.split()) < 6 or (_YIELD.search(line) and len(line.split()) < 10):
            continue
        return line[:300]
    return ""
