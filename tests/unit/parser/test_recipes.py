"""schema.org Recipe to Distill's recipe: the ways real pages bend the vocabulary."""

from __future__ import annotations

import pytest
from distill_parser import recipes


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("PT1H30M", 90),
        ("PT90M", 90),
        ("P1DT2H", 1560),
        ("P0DT0H45M", 45),
        ("PT1.5H", 90),
        ("PT30S", 0),
        ("P1W", 10080),
        ("PT", 0),
        ("45 minutes", 45),
        ("1 hr 20 mins", 80),
        ("2 Stunden", 120),
        ("25", 25),
        (25, 25),
        (["PT10M"], 10),
        ({"@type": "QuantitativeValue", "maxValue": "PT15M"}, 15),
        ("soon", 0),
        (None, 0),
        (True, 0),
    ],
)
def test_minutes(value: object, expected: int) -> None:
    assert recipes.minutes(value) == expected


def test_instructions_sections_steps_and_html() -> None:
    data = [
        {"@type": "HowToSection", "name": "Instant Pot", "itemListElement": [
            {"@type": "HowToStep", "text": "Sauté the onion."},
            {"@type": "HowToStep", "name": "Add the broth…", "text": "Add the broth and cook 8 minutes."},
        ]},
        {"@type": "HowToSection", "name": "Stove Top", "itemListElement": [
            {"@type": "HowToStep", "name": "Cook it slowly", "text": "Simmer for 25 minutes."},
        ]},
    ]  # fmt: skip
    assert recipes.instructions(data) == [
        "Instant Pot",
        "Sauté the onion.",
        "Add the broth and cook 8 minutes.",  # a name that is the text cut short is not repeated
        "Stove Top",
        "Cook it slowly",  # a name that is a heading of its own is kept
        "Simmer for 25 minutes.",
    ]
    assert recipes.instructions("<ol><li>Mix.</li><li>Bake &amp; cool.</li></ol>") == ["Mix.", "Bake & cool."]
    assert recipes.instructions("<p>Mix.<br>Rest.</p>") == ["Mix.", "Rest."]
    assert recipes.instructions("Mix.\n\nBake.") == ["Mix.", "Bake."]
    assert recipes.instructions({"@type": "ItemList", "itemListElement": ["One.", "Two."]}) == ["One.", "Two."]
    assert recipes.instructions([{"@type": "HowToStep", "text": "Same."}, "Same."]) == ["Same."]
    assert recipes.instructions(None) == []


def test_ingredients_in_every_shape() -> None:
    assert recipes.ingredients(["2 eggs", " 1 cup  milk ", "", None]) == ["2 eggs", "1 cup milk"]
    assert recipes.ingredients("¼ cup lemon juice\n½ cup olive oil") == ["¼ cup lemon juice", "½ cup olive oil"]
    assert recipes.ingredients(["['1 kilogram tavuk', '1 adet soğan']", '["2 leeks"]']) == [
        "1 kilogram tavuk",
        "1 adet soğan",
        "2 leeks",
    ]
    assert recipes.ingredient("1 onion ((chopped))") == "1 onion (chopped)"
    assert recipes.ingredient("2½ lbs potatoes (grated (see notes))") == "2½ lbs potatoes (grated (see notes))"
    assert recipes.ingredient("▢ 200 g flour") == "200 g flour"
    assert recipes.ingredient("• 50g butter") == "50g butter"
    assert recipes.ingredient("1 &amp;frac12; cups sugar") == "1 ½ cups sugar"  # double-encoded
    assert recipes.ingredient("<b>AJI-NO-MOTO</b>") == "AJI-NO-MOTO"


def test_normalize_a_whole_recipe() -> None:
    r = recipes.normalize(
        {
            "@context": "https://schema.org",
            "@type": ["Recipe", "NewsArticle"],
            "name": "Lemon &amp; Ricotta Pancakes",
            "recipeIngredient": ["2 eggs"],
            "recipeInstructions": [{"@type": "HowToStep", "text": "Whisk."}],
            "recipeYield": ["4", "4 servings"],
            "prepTime": "PT10M",
            "cookTime": "PT15M",
            "image": [{"@type": "ImageObject", "url": "/img/p.jpg"}],
            "author": [{"@type": "Person", "name": "Marta"}, {"name": "Marta"}, "Luca"],
            "recipeCuisine": ["Italian", "Italian"],
            "recipeCategory": "Breakfast, Brunch",
        },
        "https://kitchen.example/r/1",
    )
    assert r == {
        "title": "Lemon & Ricotta Pancakes",
        "ingredients": ["2 eggs"],
        "instructions": ["Whisk."],
        "yields": "4 servings",
        "prep_time_minutes": 10,
        "cook_time_minutes": 15,
        "total_time_minutes": 25,
        "image": "https://kitchen.example/img/p.jpg",
        "description": "",
        "author": "Marta, Luca",
        "cuisine": "Italian",
        "category": "Breakfast, Brunch",
        "source": "json-ld",
    }
    assert recipes.normalize({"recipeYield": 6})["yields"] == "6 servings"
    assert recipes.normalize({"@source": "microdata"})["source"] == "microdata"


def test_find_recipe_skips_empty_ones() -> None:
    objs = [{"@type": "Recipe"}, {"@type": "http://schema.org/Recipe", "name": "Real"}]
    assert recipes.find_recipe(objs)["title"] == "Real"  # type: ignore[index]
    assert recipes.find_recipe([{"@type": "Article", "name": "x"}]) is None
