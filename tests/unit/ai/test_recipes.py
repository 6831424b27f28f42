import pytest
from distill_ai import recipe_heuristic, recipes
from distill_parser import recipes as parser_recipes

from tests.unit.ai.samples import CAPTION

PARSER_KEYS = list(parser_recipes.normalize({"name": "x", "recipeIngredient": ["1 egg"]}))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (25, 25),
        ("25", 25),
        ("25 minutes", 25),
        ("1 hr 20 mins", 80),
        ("1.5 hours", 90),
        ("PT1H20M", 80),
        ("P1DT2H", 1560),
        ("about 10 min", 10),
        ("", 0),
        (None, 0),
        (True, 0),
        ("soon", 0),
        (-5, 0),
    ],
)
def test_minutes(value: object, expected: int) -> None:
    assert recipes.minutes(value) == expected


def test_normalize_gives_the_parsers_structure_with_source_ai() -> None:
    r = recipes.normalize(
        {
            "title": "Soup",
            "ingredients": "1 leek\n2 potatoes",
            "steps": ["1. Chop.", {"text": "Boil."}],
            "prep_time_minutes": "10 min",
            "cook_time_minutes": 20,
            "cuisine": ["French", "Rustic"],
        }
    )
    assert r is not None
    assert list(r) == PARSER_KEYS
    assert r["ingredients"] == ["1 leek", "2 potatoes"]
    assert r["instructions"] == ["Chop.", "Boil."]
    assert (r["prep_time_minutes"], r["cook_time_minutes"], r["total_time_minutes"]) == (10, 20, 30)
    assert r["cuisine"] == "French, Rustic" and r["source"] == "ai"


@pytest.mark.parametrize("d", [{"is_recipe": False, "ingredients": ["1 egg"]}, {"title": "Soup"}, "nope", None])
def test_normalize_finds_no_recipe(d: object) -> None:
    assert recipes.normalize(d) is None  # type: ignore[arg-type]


def test_a_caption_becomes_a_recipe() -> None:
    r = recipe_heuristic.extract(CAPTION, title="Instagram post")
    assert r is not None
    assert list(r) == PARSER_KEYS
    assert r["title"] == "Creamy garlic pasta"
    assert r["ingredients"] == [
        "200g spaghetti",
        "3 cloves garlic, minced",
        "1 cup heavy cream",
        "50g parmesan",
        "fresh basil",
        "Salt & pepper",
    ]
    assert r["instructions"][0] == "Cook the pasta in salted water." and len(r["instructions"]) == 4
    assert r["yields"] == "2 servings"
    assert r["total_time_minutes"] == 20
    assert (r["cuisine"], r["category"], r["source"]) == ("Italian", "Dinner", "ai")


def test_an_inline_caption_becomes_a_recipe() -> None:
    text = (
        "Best banana bread ever! You'll need: 3 ripe bananas, 250g flour, 100g sugar, 2 eggs. "
        "Mash the bananas, mix everything and bake 50 minutes at 180C. Prep: 10 min #baking"
    )
    r = recipe_heuristic.extract(text)
    assert r is not None
    assert r["title"] == "Best banana bread ever"
    assert r["ingredients"] == ["3 ripe bananas", "250g flour", "100g sugar", "2 eggs"]
    assert r["instructions"][0].startswith("Mash the bananas")
    assert r["prep_time_minutes"] == 10


def test_a_recipe_page_without_json_ld(recipe_page: tuple) -> None:
    text, title, _ = recipe_page
    r = recipe_heuristic.extract(text, title)
    assert r is not None
    assert r["title"] == "Lemon Ricotta Pancakes"
    assert len(r["ingredients"]) == 8 and r["ingredients"][0] == "250 g ricotta"
    assert len(r["instructions"]) == 4 and r["instructions"][-1].startswith("Cook spoonfuls")
    assert r["category"] == ""  # "2 minutes per side" names no side dish


def test_articles_are_no_recipes(article: tuple, field_notes: tuple) -> None:
    assert recipe_heuristic.extract(article[0], article[1]) is None
    assert recipe_heuristic.extract(field_notes[0], field_notes[1]) is None
    assert recipe_heuristic.extract("We bought 2 kg of apples and 3 pears at the market today.") is None


def test_recipe_cues(article: tuple, field_notes: tuple, recipe_page: tuple) -> None:
    assert recipe_heuristic.has_recipe_cues(CAPTION)
    assert recipe_heuristic.has_recipe_cues(recipe_page[0])
    assert recipe_heuristic.has_recipe_cues("- 2 eggs\n- 100 g flour\nMix and fry.")
    assert not recipe_heuristic.has_recipe_cues(article[0])
    assert not recipe_heuristic.has_recipe_cues(field_notes[0])
