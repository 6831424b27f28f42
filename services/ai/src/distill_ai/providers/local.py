"""The `local` provider: no network, no model download; fast and deterministic.

Extractive summary and insights (distill_ai.extractive), keywords with YAKE
(distill_ai.keywords), recipes by heuristics (distill_ai.recipe_heuristic). The work is
CPU-bound: a short text (a few milliseconds of work) is analysed right on the event loop,
where a worker thread would cost more than it saves (the hand-over, and threads taking the
GIL from each other); a longer one in a worker thread, so the event loop stays free.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from distill_ai import extractive, keywords, recipe_heuristic, segment
from distill_ai.providers.base import Progress, Provider, no_progress
from distill_ai.results import Analysis, Document, Usage, Want

MAX_CHARS = 400_000  # a few hundred pages of text: beyond it, nothing new for an extractive summary
INLINE_CHARS = 8_000  # up to this, the analysis (a few ms) runs on the event loop, not in a thread


def analyze_sync(doc: Document, want: Want) -> Analysis:
    """The local analysis of one document (pure)."""
    bs = segment.blocks(doc.text[:MAX_CHARS])
    out = Analysis()
    if want.summary or want.insights:
        ex = extractive.summarize_blocks(
            bs, title=doc.title, n_sentences=want.summary_sentences, n_insights=want.n_insights if want.insights else 0
        )
        out.summary = ex.summary if want.summary else None
        out.insights = ex.insights if want.insights else []
    if want.keywords:
        out.keywords = keywords.keywords(segment.for_keywords(bs), want.n_keywords, doc.language)
    return out


class LocalProvider(Provider):
    kind = "local"

    def __init__(self, model: str = "extractive-v1") -> None:
        self.model = model or "extractive-v1"

    async def start(self) -> None:
        await asyncio.to_thread(keywords.warm_up)

    async def analyze(self, doc: Document, want: Want, usage: Usage, progress: Progress = no_progress) -> Analysis:
        t0 = time.monotonic()
        try:
            if len(doc.text) <= INLINE_CHARS:
                return analyze_sync(doc, want)
            return await asyncio.to_thread(analyze_sync, doc, want)
        finally:
            usage.latency_ms += int((time.monotonic() - t0) * 1000)

    async def extract_recipe(self, doc: Document, usage: Usage) -> dict[str, Any] | None:
        t0 = time.monotonic()
        try:
            return await asyncio.to_thread(recipe_heuristic.extract, doc.text[:MAX_CHARS], doc.title)
        finally:
            usage.latency_ms += int((time.monotonic() - t0) * 1000)
