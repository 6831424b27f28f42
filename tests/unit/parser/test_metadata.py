"""Page metadata: title, canonical URL, language, byline, date, thumbnail."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from distill_parser.html_text import parse
from distill_parser.metadata import language_tag, page_metadata, parse_date

PAGE = """<html lang="en_gb"><head>
<title>Storms | Coast News</title>
<meta property="og:title" content="Storms return to the coast">
<meta property="og:site_name" content="Coast News">
<meta property="og:image" content="/img/storm.jpg">
<meta property="article:author" content="https://coast.example/staff/ingrid">
<meta name="author" content="Ingrid Solberg">
<meta name="description" content="What the harbours did.">
<link rel="alternate canonical" href="/2026/storms">
</head><body><time datetime="2020-01-01">old</time><h1>Storms</h1></body></html>"""


def test_a_page_describes_itself() -> None:
    m = page_metadata(parse(PAGE), "https://coast.example/a?utm=x", [])
    assert m["title"] == "Storms return to the coast"
    assert m["site_name"] == "Coast News" and m["description"] == "What the harbours did."
    assert m["image"] == "https://coast.example/img/storm.jpg"
    assert m["author"] == "Ingrid Solberg"  # a profile URL is not a name
    assert m["canonical"] == "https://coast.example/2026/storms"
    assert m["language"] == "en-GB"
    assert m["published"] == datetime(2020, 1, 1, tzinfo=UTC)


def test_schema_org_outranks_page_guesses() -> None:
    objs = [{"@type": "NewsArticle", "author": {"@type": "Person", "name": "Ola"}, "datePublished": "2026-02-14",
             "inLanguage": "nb-NO"}]  # fmt: skip
    m = page_metadata(parse("<html><head><title>T</title></head><body></body></html>"), "https://x.example/", objs)
    assert (m["author"], m["published"], m["language"]) == ("Ola", datetime(2026, 2, 14, tzinfo=UTC), "nb-NO")
    assert m["title"] == "T" and m["canonical"] is None


def test_fallbacks_og_url_and_h1() -> None:
    page = (
        '<html><head><meta property="og:url" content="https://x.example/c"></head><body><h1>Only H1</h1></body></html>'
    )
    m = page_metadata(parse(page), "https://x.example/a", [])
    assert m["title"] == "Only H1" and m["canonical"] == "https://x.example/c"


@pytest.mark.parametrize(
    ("value", "tag"),
    [("en", "en"), ("EN-us", "en-US"), ("pt_BR", "pt-BR"), ("zh-Hant-TW", "zh-Hant-TW"), ("de-DE, en", "de-DE"),
     ("x" * 100, None), ("english please", None), ("", None), (None, None), ("javascript:alert(1)", None)],
)  # fmt: skip
def test_language_tags(value: str | None, tag: str | None) -> None:
    assert language_tag(value) == tag


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-02-14T08:00:00Z", datetime(2026, 2, 14, 8, tzinfo=UTC)),
        ("2012/10/10", datetime(2012, 10, 10, tzinfo=UTC)),
        ("14.02.2026", datetime(2026, 2, 14, tzinfo=UTC)),
        ("Sat, 14 Feb 2026 08:00:00 GMT", datetime(2026, 2, 14, 8, tzinfo=UTC)),
        ("0000-00-00", None),
        ("0001-01-01", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_dates(value: str, expected: datetime | None) -> None:
    assert parse_date(value) == expected
