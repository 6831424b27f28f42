import json
import random

import pytest
from distill_ai import outputs
from distill_ai.jsonfix import BadJson, parse_object
from distill_ai.results import Want

WANT = Want(n_keywords=3, n_insights=2)


def test_a_good_answer() -> None:
    a = outputs.analysis(
        {"summary": " A  short\nsummary. ", "keywords": ["a", "A", "b", "c", "d"], "insights": ["x"]}, WANT
    )
    assert a.summary == "A short summary."
    assert a.keywords == ["a", "b", "c"]  # de-duplicated, capped
    assert a.insights == ["x"]


def test_lenient_shapes() -> None:
    a = outputs.analysis(
        {"result": {"Summary": ["One.", "Two."], "key_phrases": "harbour, storm; boats", "Key Points": "1. x\n2. y"}},
        WANT,
    )
    assert a.summary == "One. Two."
    assert a.keywords == ["harbour", "storm", "boats"]
    assert a.insights == ["x", "y"]


def test_only_what_is_wanted_is_required() -> None:
    a = outputs.analysis({"keywords": ["a"]}, Want(summary=False, insights=False))
    assert a.summary is None and a.keywords == ["a"] and a.insights == []


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        ({"keywords": [], "insights": []}, 'missing "summary"'),
        ({"summary": "x"}, 'missing "keywords", "insights"'),
        ({"summary": "", "keywords": [], "insights": []}, "non-empty string"),
        ({"summary": {"text": "x"}, "keywords": [], "insights": []}, "non-empty string"),
        ({"summary": "x", "keywords": 7, "insights": []}, '"keywords": expected a list'),
    ],
)
def test_unusable_answers_say_what_is_wrong(obj: dict, problem: str) -> None:
    with pytest.raises(outputs.BadOutput, match=problem):
        outputs.analysis(obj, WANT)


def test_recipe_answers() -> None:
    assert outputs.recipe({"is_recipe": False, "title": "", "ingredients": [], "instructions": []}) is None
    assert outputs.recipe({"recipe": None}) is None
    r = outputs.recipe({"recipe": {"title": "Tea", "ingredients": ["1 bag"], "instructions": ["Steep."]}}, title="x")
    assert r is not None and r["title"] == "Tea" and r["source"] == "ai"
    with pytest.raises(outputs.BadOutput):
        outputs.recipe({"summary": "not a recipe answer"})
    with pytest.raises(outputs.BadOutput):
        outputs.recipe({"is_recipe": True, "ingredients": 3, "instructions": []})


def _garbage(rng: random.Random, depth: int = 0) -> object:
    kinds = ["str", "int", "float", "bool", "none", "list", "dict"] if depth < 3 else ["str", "int", "none"]
    k = rng.choice(kinds)
    if k == "str":
        return rng.choice(["", "x", "summary", "1. a\n2. b", "a, b; c", "🍝" * 3, "{", "n/a"])
    if k == "int":
        return rng.randint(-5, 10**6)
    if k == "float":
        return rng.random() * 1e9
    if k == "bool":
        return rng.random() < 0.5
    if k == "none":
        return None
    if k == "list":
        return [_garbage(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = [
        "summary",
        "keywords",
        "insights",
        "is_recipe",
        "ingredients",
        "instructions",
        "title",
        "recipe",
        "result",
        "prep_time_minutes",
        "yields",
        "steps",
        "x",
    ]
    return {rng.choice(keys): _garbage(rng, depth + 1) for _ in range(rng.randint(0, 6))}


def test_garbage_never_breaks_the_checks() -> None:
    """A small model answers anything: the checks either accept it or raise BadOutput, nothing else."""
    rng = random.Random(7)
    for _ in range(3000):
        obj = _garbage(rng)
        text = json.dumps(obj) if rng.random() < 0.8 else json.dumps(obj)[: rng.randint(0, 40)]
        try:
            parsed = parse_object(text)
        except BadJson:
            continue
        for check in (lambda o: outputs.analysis(o, WANT), outputs.recipe):
            try:
                check(parsed)
            except outputs.BadOutput:
                pass


def test_invented_recipe_lines_are_dropped() -> None:
    source = "Pasta night! 200 g spaghetti, 2 cloves garlic. Boil the spaghetti, fry the garlic."
    r = outputs.recipe(
        {
            "is_recipe": True,
            "ingredients": ["200 g spaghetti", "1 lobster", "Garlic cloves"],
            "instructions": ["Boil the spaghetti.", "Flambé the lobster."],
        },
        source=source,
    )
    assert r is not None
    assert r["ingredients"] == ["200 g spaghetti", "Garlic cloves"]
    assert r["instructions"] == ["Boil the spaghetti."]
    made_up = {"is_recipe": True, "ingredients": ["1 lobster", "caviar"], "instructions": ["Serve."]}
    assert outputs.recipe(made_up, source="The harbour master moved forty boats.") is None
