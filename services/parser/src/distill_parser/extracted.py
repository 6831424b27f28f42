"""What extraction produces for one page (the parsed_contents row's content)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Extracted:
    text: str = ""
    title: str | None = None
    byline: str | None = None
    site_name: str | None = None
    description: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    canonical_url: str | None = None
    thumbnail_url: str | None = None
    structured: dict[str, Any] = field(default_factory=dict)
    recipe: dict[str, Any] | None = None
    content_type: str = ""

    @property
    def word_count(self) -> int:
        return len(self.text.split())

    @property
    def content_hash(self) -> str:
        """SHA-256 of the extracted text: the same content gives the same hash wherever it was found."""
        return hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()

    @property
    def no_content(self) -> bool:
        return not self.text.strip() and self.recipe is None
