"""The one interface every provider implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any

from distill_ai.results import Analysis, Document, Usage, Want

Progress = Callable[[int, str], Awaitable[None]]


async def no_progress(percent: int, message: str) -> None:
    return None


class Provider(ABC):
    """Turns a document into an analysis and, on request, a recipe.

    Implementations raise distill_core.errors types: RateLimited (with retry_after) for
    429, UpstreamError for 5xx, TimeoutFailure, ConnectionFailure, PermanentError for a
    request the endpoint refuses (400/401/403/404), AiBadOutput for answers that stay
    unusable after one repair request. Costs go into the Usage passed in.
    """

    #: "local" or "openai", stored with each output.
    kind: str = ""
    #: The model's name, stored with each output.
    model: str = ""

    @abstractmethod
    async def analyze(self, doc: Document, want: Want, usage: Usage, progress: Progress = no_progress) -> Analysis:
        """Summary, keywords and insights of the document, as far as `want` asks."""

    @abstractmethod
    async def extract_recipe(self, doc: Document, usage: Usage) -> dict[str, Any] | None:
        """The recipe in the document's text (distill's recipe structure, source "ai"), or None."""

    async def start(self) -> None:
        """Load what the provider needs before the first item (optional)."""
        return None

    async def aclose(self) -> None:
        return None
