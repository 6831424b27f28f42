"""Export settings: property names per deployment, pinned version, the token kept secret."""

from __future__ import annotations

import pytest
from distill_notion.settings import ExportSettings
from pydantic import ValidationError


def test_property_names_from_pairs_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILL_NOTION_PROPERTY_NAMES", "title=Title, tags=Topics")
    s = ExportSettings()
    assert s.property_names == {
        "title": "Title",
        "url": "URL",
        "tags": "Topics",
        "summary": "Summary",
        "distill_id": "Distill ID",
    }
    monkeypatch.setenv("DISTILL_NOTION_PROPERTY_NAMES", '{"distill_id": "Item ID"}')
    assert ExportSettings().property_names["distill_id"] == "Item ID"


def test_unknown_fields_are_refused_with_the_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILL_NOTION_PROPERTY_NAMES", "colour=Colour")
    with pytest.raises(ValidationError, match="the fields are title, url, tags, summary, distill_id"):
        ExportSettings()


def test_defaults_and_the_token_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILL_NOTION_TOKEN", "secret_abcdef0123456789")
    s = ExportSettings()
    assert s.notion_version == "2025-09-03" and s.notion_base_url == "https://api.notion.com"
    assert s.notion_rate_limit == 3.0
    assert "secret_abcdef" not in repr(s) and "secret_abcdef" not in str(s.model_dump())
    assert s.notion_token is not None and s.notion_token.get_secret_value() == "secret_abcdef0123456789"
