"""Page properties: defaults, renames, per-task values, Notion's limits, clear errors."""

from __future__ import annotations

import pytest
from distill_notion import notion_properties as np_

from tests.fakes.notion_server import DEFAULT_SCHEMA, FakeNotion, plain

ITEM = "0f8fad5b-d9cb-469f-a165-70867728950e"


def doc(**kw: object) -> dict:
    return {
        "item_id": ITEM,
        "title": "Bread",
        "url": "https://example.com/bread",
        "summary": "Short.",
        "keywords": ["baking", "bread"],
        **kw,
    }


def check_with_fake(props: dict, schema: dict[str, str] | None = None) -> None:
    """The fake server's property validation accepts what we built."""
    fake = FakeNotion()
    _, [ds] = fake.add_database(schema)
    fake._check_properties(ds, props)


def test_default_names_and_types() -> None:
    props, notes = np_.build(doc(), DEFAULT_SCHEMA)
    assert notes == []
    assert plain(props["Name"]["title"]) == "Bread"
    assert props["URL"] == {"url": "https://example.com/bread"}
    assert props["Tags"] == {"multi_select": [{"name": "baking"}, {"name": "bread"}]}
    assert plain(props["Summary"]["rich_text"]) == "Short."
    assert plain(props["Distill ID"]["rich_text"]) == ITEM
    check_with_fake(props)


def test_renamed_properties_and_a_differently_named_title() -> None:
    schema = {"Title": "title", "Link": "url", "Topics": "multi_select", "Item": "rich_text"}
    names = {"url": "Link", "tags": "Topics", "distill_id": "Item", "summary": "Abstract"}
    props, notes = np_.build(doc(), schema, names)
    assert set(props) == {"Title", "Link", "Topics", "Item"}  # the title found by type
    assert any("summary" in n and "Abstract" in n for n in notes)
    check_with_fake(props, schema)


def test_without_a_distill_id_property_the_error_says_what_to_do() -> None:
    with pytest.raises(np_.SchemaError) as e:
        np_.build(doc(), {"Name": "title"})
    assert "'Distill ID'" in str(e.value) and "DISTILL_NOTION_PROPERTY_NAMES" in str(e.value)
    with pytest.raises(np_.SchemaError, match="has a number property"):
        np_.build(doc(), {"Name": "title", "Distill ID": "number"})


def test_task_properties_are_typed_by_the_schema_and_override() -> None:
    schema = {**DEFAULT_SCHEMA, "Status": "select", "Stars": "number", "Read": "checkbox", "Due": "date"}
    extra = {"Status": "To read", "Stars": "4.5", "Read": "no", "Due": "2025-01-31", "Tags": "a, b,c"}
    props, _ = np_.build(doc(), schema, None, extra)
    assert props["Status"] == {"select": {"name": "To read"}}
    assert props["Stars"] == {"number": 4.5}
    assert props["Read"] == {"checkbox": False}
    assert props["Due"] == {"date": {"start": "2025-01-31"}}
    assert props["Tags"] == {"multi_select": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}
    check_with_fake(props, schema)


def test_task_properties_naming_unknown_or_mistyped_properties_fail_clearly() -> None:
    with pytest.raises(np_.SchemaError, match=r"names 'Colour'.*it has: Distill ID, Name, Summary, Tags, URL"):
        np_.build(doc(), DEFAULT_SCHEMA, None, {"Colour": "red"})
    with pytest.raises(np_.SchemaError, match="'Stars' is a number, and 'many' is not one"):
        np_.build(doc(), {**DEFAULT_SCHEMA, "Stars": "number"}, None, {"Stars": "many"})


def test_limits_multi_select_options_urls_and_long_summaries() -> None:
    keywords = [f"tag, number {i}" for i in range(150)] + ["x" * 300, "baking", "Baking"]
    long_url = "https://example.com/" + "p" * 2000
    props, _ = np_.build(doc(keywords=keywords, url=long_url, summary="s" * 250_000), DEFAULT_SCHEMA)
    opts = props["Tags"]["multi_select"]
    assert len(opts) == 100
    assert all("," not in o["name"] and len(o["name"]) <= 100 for o in opts)
    assert props["URL"] == {"url": None}
    assert len(props["Summary"]["rich_text"]) == 100
    check_with_fake(props)


@pytest.mark.parametrize(
    "raw",
    [
        "0f8fad5bd9cb469fa16570867728950e",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "https://www.notion.so/acme/Reading-list-0f8fad5bd9cb469fa16570867728950e?v=1234abcd1234abcd1234abcd1234abcd",
        " 0F8FAD5BD9CB469FA16570867728950E ",
    ],
)
def test_normalize_id_accepts_ids_and_urls(raw: str) -> None:
    assert np_.normalize_id(raw) == ITEM


def test_normalize_id_rejects_other_things_clearly() -> None:
    with pytest.raises(ValueError, match="not a Notion id"):
        np_.normalize_id("my database")
