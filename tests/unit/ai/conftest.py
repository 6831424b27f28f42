"""Fixtures of sample texts for the AI unit tests."""

from __future__ import annotations

import pytest

from tests.unit.ai.samples import parsed


@pytest.fixture(scope="session")
def article() -> tuple[str, str, str | None]:
    return parsed("article.html")


@pytest.fixture(scope="session")
def recipe_page() -> tuple[str, str, str | None]:
    return parsed("recipe.html")


@pytest.fixture(scope="session")
def field_notes() -> tuple[str, str, str | None]:
    return parsed("field-notes.txt")
