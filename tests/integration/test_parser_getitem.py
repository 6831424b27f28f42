"""What the parser stores, as a user reads it back: CreateTask(stages = [parse]) through the
gateway, the parse stage on the real runner, then GetItem in both views.

Every field of issue 4's stored result: canonical URL, final URL, title, byline, date,
language, text, structured data, thumbnail, content hash; the default view gives an
excerpt and no structured data, view = FULL the whole text and the structured data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from distill_client import AsyncClient
from distill_core.runner import StageRunner
from distill_parser.settings import ParserSettings
from distill_parser.stage import ParseStage
from google.protobuf import json_format

from tests.fakes.hostile_site import HostileSite
from tests.integration.gateway_fixture import running_gateway

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

PARAGRAPHS = "".join(
    f"<p>Paragraph {i}: the harbour master moved forty boats to the inner basin before the storm, and the "
    f"crews checked every mooring line twice while the radio repeated the tide tables for the coast.</p>"
    for i in range(12)
)
ARTICLE = f"""<!doctype html><html lang="en-GB"><head>
<title>Storms return | Coast News</title>
<meta property="og:title" content="Storms return to the coast">
<meta property="og:image" content="/img/storm.jpg">
<meta property="og:site_name" content="Coast News">
<meta name="description" content="What the harbours did before the winter storms.">
<link rel="canonical" href="/2026/02/storms-return">
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "NewsArticle",
 "headline": "Storms return to the coast", "author": {{"@type": "Person", "name": "Ingrid Solberg"}},
 "datePublished": "2026-02-14T08:00:00Z", "publisher": {{"@type": "Organization", "name": "Coast News"}}}}</script>
</head><body><nav>Home · World · Coast</nav><article><h1>Storms return to the coast</h1>{PARAGRAPHS}</article>
<footer>© Coast News</footer></body></html>"""
RECIPE = """<!doctype html><html lang="it"><head><title>Pancakes</title>
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "Recipe",
 "name": "Lemon Ricotta Pancakes", "recipeIngredient": ["2 eggs", "250 g ricotta"], "recipeYield": "4",
 "recipeInstructions": [{"@type": "HowToStep", "text": "Whisk the eggs."}, {"@type": "HowToStep", "text": "Fry."}],
 "totalTime": "PT25M", "image": "https://kitchen.example/p.jpg"}</script></head>
<body><article><h1>Lemon Ricotta Pancakes</h1><p>Soft pancakes for a slow Sunday, with lemon zest.</p></article>
</body></html>"""


@pytest.fixture
def site() -> Iterator[HostileSite]:
    s = HostileSite()
    s.files["article.html"] = ARTICLE.encode()
    s.files["recipe.html"] = RECIPE.encode()
    s.redirect_to["/news/latest"] = "/file/article.html"
    yield s
    s.close()


async def test_get_item_shows_every_stored_field(nats_url: str, database_url: str, site: HostileSite) -> None:
    settings = ParserSettings(nats_url=nats_url, database_url=database_url, parser_allow_private_networks=True)
    runner = StageRunner(ParseStage(settings), settings)
    await runner.start()
    try:
        async with running_gateway(nats_url, database_url) as gw:
            _, key = await gw.tenant()
            async with AsyncClient(gw.address, key) as client:
                task = await client.submit([site.url("/news/latest"), site.url("/file/recipe.html")], stages=["parse"])
                done = await client.wait(task.id, timeout=60)
                assert [i.status for i in done.items] == [3, 3], done  # ITEM_STATUS_SUCCEEDED
                article_id, recipe_id = (i.id for i in sorted(done.items, key=lambda i: i.position))
                basic = (await client.get_item(article_id)).parsed
                full = (await client.get_item(article_id, full=True)).parsed
                recipe = (await client.get_item(recipe_id, full=True)).parsed
    finally:
        await runner.stop()

    base = site.url("")
    for p in (basic, full):
        assert p.url == site.url("/news/latest") and p.final_url == site.url("/file/article.html")
        assert p.canonical_url == f"{base}/2026/02/storms-return"
        assert p.title == "Storms return to the coast" and p.byline == "Ingrid Solberg"
        assert p.site_name == "Coast News" and p.description.startswith("What the harbours did")
        assert p.publish_time.ToDatetime(tzinfo=UTC) == datetime(2026, 2, 14, 8, tzinfo=UTC)
        assert p.language == "en-GB" and p.thumbnail_url == f"{base}/img/storm.jpg"
        assert p.content_type == "text/html" and not p.no_content
        assert "Paragraph 0: the harbour master" in p.excerpt
    # The default view: an excerpt only; FULL: the whole text (no navigation or footer) and the data.
    assert basic.text == "" and not basic.HasField("structured_data")
    assert "Paragraph 11:" in full.text and "Home · World" not in full.text and "© Coast News" not in full.text
    assert len(full.text) > len(full.excerpt) and full.word_count == len(full.text.split())
    assert full.content_hash == basic.content_hash == hashlib.sha256(full.text.encode()).hexdigest()
    data = json_format.MessageToDict(full.structured_data)
    assert data["article"]["authors"] == ["Ingrid Solberg"] and data["article"]["publisher"] == "Coast News"
    assert data["opengraph"]["og:site_name"] == "Coast News" and "newsarticle" in data["types"]
    # A recipe page: the recipe in the item, the same structure the AI stage produces.
    r = json_format.MessageToDict(recipe.recipe, preserving_proto_field_name=True)
    assert r["title"] == "Lemon Ricotta Pancakes" and r["ingredients"] == ["2 eggs", "250 g ricotta"]
    assert r["instructions"] == ["Whisk the eggs.", "Fry."] and r["yields"] == "4 servings"
    assert r["total_time_minutes"] == 25 and r["source"] == "json-ld" and recipe.language == "it"
    assert recipe.thumbnail_url == "https://kitchen.example/p.jpg"
