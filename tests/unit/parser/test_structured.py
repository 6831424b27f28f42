"""schema.org objects from JSON-LD and microdata, and the Article/Product summaries."""

from __future__ import annotations

from distill_parser import structured
from distill_parser.html_text import parse
from distill_parser.metadata import types_of


def ld(*blocks: str) -> str:
    scripts = "".join(f'<script type="application/ld+json">{b}</script>' for b in blocks)
    return f"<html><head>{scripts}</head><body><p>x</p></body></html>"


def test_json_ld_graphs_lists_and_nested_objects() -> None:
    doc = parse(
        ld(
            '{"@context": "https://schema.org", "@graph": [{"@type": "WebPage", "mainEntity": '
            '{"@type": "Recipe", "name": "Soup"}}, {"@type": "Organization", "name": "Kitchen"}]}',
            '[{"@type": "ItemList", "itemListElement": '
            '[{"@type": "ListItem", "item": {"@type": "Recipe", "name": "Tart"}}]}]',
        )
    )
    names = [(types_of(o)[0], o.get("name")) for o in structured.json_ld(doc)]
    assert ("recipe", "Soup") in names and ("recipe", "Tart") in names and ("organization", "Kitchen") in names
    assert names[0][0] == "webpage"  # outer objects first


def test_broken_json_ld_is_repaired_or_skipped() -> None:
    doc = parse(
        ld(
            '/*<![CDATA[*/{"@type": "Article", "headline": "In CDATA"}/*]]>*/',
            '{"@type": "Product", "name": "Kettle", "offers": {"price": "20",},}',  # trailing commas
            '{"@type": "Article", "headline": "broken" ',  # cut short: skipped
            '{"@type": "Recipe", "name": "Line\nbreak in a string"}',  # control character
            "",
        )
    )
    objs = structured.json_ld(doc)
    assert [o.get("headline") or o.get("name") for o in objs] == ["In CDATA", "Kettle", "Line\nbreak in a string"]


MICRODATA = """<html><body>
<div itemscope itemtype="https://schema.org/Recipe">
  <h1 itemprop="name">Pancakes</h1>
  <meta itemprop="totalTime" content="PT20M">
  <img itemprop="image" src="/p.jpg">
  <time itemprop="datePublished" datetime="2024-03-01">March 1</time>
  <span itemprop="author" itemscope itemtype="https://schema.org/Person"><span itemprop="name">Marta</span></span>
  <ul><li itemprop="recipeIngredient">2 eggs</li><li itemprop="recipeIngredient">1 cup milk</li></ul>
  <ol itemprop="recipeInstructions"><li>Whisk.</li><li>Fry.</li></ol>
</div>
<div itemscope itemtype="http://schema.org/Product"><span itemprop="name">Pan</span></div>
</body></html>"""


def test_microdata_items_with_nested_items_and_value_rules() -> None:
    objs = structured.microdata(parse(MICRODATA))
    recipe, person, product = objs
    assert types_of(recipe) == ["recipe"] and recipe["@source"] == "microdata"
    assert recipe["name"] == "Pancakes" and recipe["totalTime"] == "PT20M" and recipe["image"] == "/p.jpg"
    assert recipe["datePublished"] == "2024-03-01"
    assert recipe["recipeIngredient"] == ["2 eggs", "1 cup milk"]
    assert recipe["recipeInstructions"] == "Whisk.\nFry."  # line breaks kept for the step splitter
    assert recipe["author"]["name"] == "Marta" and person["name"] == "Marta"
    assert product["name"] == "Pan"


def test_article_and_product_summaries() -> None:
    art = structured.article(
        {
            "@type": "NewsArticle",
            "headline": "  Storms   return ",
            "author": [{"@type": "Person", "name": "Ingrid"}, "Ola"],
            "datePublished": "2026-02-14T08:00:00Z",
            "publisher": {"@type": "Organization", "name": "Coast News"},
            "image": ["/a.jpg", "/b.jpg"],
        },
        "https://news.example/x",
    )
    assert art == {
        "type": "newsarticle",
        "headline": "Storms return",
        "authors": ["Ingrid", "Ola"],
        "published": "2026-02-14T08:00:00+00:00",
        "publisher": "Coast News",
        "image": "https://news.example/a.jpg",
    }
    prod = structured.product(
        {
            "@type": "Product",
            "name": "Kettle",
            "brand": {"@type": "Brand", "name": "Hotpot"},
            "sku": "K-1",
            "offers": {"@type": "AggregateOffer", "lowPrice": "19.90", "priceCurrency": "EUR",
                       "offers": [{"availability": "https://schema.org/InStock"}]},
            "aggregateRating": {"ratingValue": "4.5", "reviewCount": 12},
        },
        "https://shop.example/",
    )  # fmt: skip
    assert prod == {
        "name": "Kettle",
        "brand": "Hotpot",
        "sku": "K-1",
        "price": "19.90",
        "currency": "EUR",
        "availability": "InStock",
        "rating": "4.5",
        "rating_count": "12",
    }
