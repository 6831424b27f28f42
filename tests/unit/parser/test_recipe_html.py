"""Recipes from the page's HTML when its schema.org data has none, or only part of one."""

from __future__ import annotations

from distill_parser import recipe_html
from distill_parser.html_text import parse

BY_CLASS = """<html><body><h1>Almonds</h1>
<div class="wprm-recipe-container"><h2 class="wprm-recipe-name">Roasted almonds</h2>
<div class="wprm-recipe-ingredients-container">
 <ul class="wprm-recipe-ingredients">
  <li class="wprm-recipe-ingredient"><span>200</span> <span>g</span> <span>almonds</span></li>
  <li class="wprm-recipe-ingredient"><span>70</span> <span>g</span> <span>sugar</span></li>
 </ul></div>
<div class="wprm-recipe-instructions-container"><ul>
  <li class="wprm-recipe-instruction"><div>Mix everything.</div></li>
  <li class="wprm-recipe-instruction"><div>Roast for 12 minutes.</div></li>
</ul></div></div></body></html>"""

BY_HEADING = """<html><body><h1>Butter Chicken</h1><p>A weeknight favourite.</p>
<h4>Ingredients</h4>
<h5>• 2 tablespoons olive oil<br> • 50g butter<br> • 1.6kg chicken thighs</h5>
<h4>Method</h4>
<p>Heat the oil.</p><p>Brown the chicken.</p>
<h4>More recipes</h4><ul><li>Wings</li></ul>
</body></html>"""


def test_a_recipe_by_class_names() -> None:
    r = recipe_html.complete(None, parse(BY_CLASS))
    assert r is not None and r["source"] == "html"
    assert r["title"] == "Roasted almonds"
    assert r["ingredients"] == ["200 g almonds", "70 g sugar"]
    assert r["instructions"] == ["Mix everything.", "Roast for 12 minutes."]


def test_a_recipe_by_headings_stops_at_the_next_heading() -> None:
    r = recipe_html.complete(None, parse(BY_HEADING))
    assert r is not None
    assert r["title"] == "Butter Chicken"
    assert r["ingredients"] == ["2 tablespoons olive oil", "50g butter", "1.6kg chicken thighs"]
    assert r["instructions"] == ["Heat the oil.", "Brown the chicken."]


def test_other_languages_and_labels() -> None:
    page = """<html><body><h1>Purê</h1><h2>Ingredientes</h2><ul><li>2 batatas</li><li>sal</li></ul>
    <h2>Modo de preparo</h2><ol><li>Cozinhe.</li><li>Amasse.</li></ol></body></html>"""
    r = recipe_html.complete(None, parse(page))
    assert r is not None and r["ingredients"] == ["2 batatas", "sal"] and r["instructions"] == ["Cozinhe.", "Amasse."]


def test_an_article_is_not_a_recipe() -> None:
    page = (
        "<html><body><h1>Storms</h1><h2>Steps the town took</h2><p>They built walls.</p><p>And more.</p></body></html>"
    )
    assert recipe_html.complete(None, parse(page)) is None


def test_the_schema_recipe_is_completed_not_replaced() -> None:
    schema = {"title": "Soup", "ingredients": ["1 leek"], "instructions": [], "source": "json-ld"}
    page = (
        "<html><body><h2>Directions</h2><ol><li>Chop the leek.</li><li>Boil it for ten minutes.</li></ol></body></html>"
    )
    r = recipe_html.complete(schema, parse(page))
    steps = ["Chop the leek.", "Boil it for ten minutes."]
    assert r == {**schema, "instructions": steps}
    whole = {"title": "Soup", "ingredients": ["1 leek"], "instructions": ["Chop.", "Boil."]}
    assert recipe_html.complete(whole, parse(page)) is whole
    one_block = {"title": "Soup", "ingredients": ["1 leek"], "instructions": ["A lovely soup."]}
    assert recipe_html.complete(one_block, parse(page))["instructions"] == steps  # type: ignore[index]


def test_steps_under_a_heading_that_repeats_the_recipe_name_after_the_ingredients() -> None:
    page = """<html><body><div class="recipe-ingredients"><ul><li>1 Kohlrabi</li></ul></div>
    <h2>Kohlrabi-Carpaccio</h2><p>Den Kohlrabi schälen.</p><p>Servieren.</p></body></html>"""
    schema = {"title": "Kohlrabi-Carpaccio", "ingredients": ["1 Kohlrabi"], "instructions": []}
    assert recipe_html.complete(schema, parse(page))["instructions"] == ["Den Kohlrabi schälen.", "Servieren."]  # type: ignore[index]
