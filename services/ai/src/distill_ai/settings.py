"""AI stage settings (DISTILL_AI_*): the default model and the named ones, and the local engine's sizes."""

from __future__ import annotations

from distill_core.ai_models import ModelSettings
from distill_core.settings import Settings
from pydantic import Field


class AiSettings(Settings, ModelSettings):
    """The AI stage. Model settings (provider, endpoint, key, limits) come from ModelSettings."""

    ai_summary_sentences: int = Field(3, ge=1, le=20, description="Sentences in a summary (at most).")
    ai_keywords: int = Field(8, ge=1, le=50, description="Keywords per item (at most).")
    ai_insights: int = Field(3, ge=0, le=20, description="Insights per item (at most).")
    ai_min_words: int = Field(3, ge=1, description="Fewer words than this is 'no content': no model is asked.")
    ai_max_rate_wait: float = Field(
        30.0, ge=0, description="Seconds an item may wait for our own rate limit before it is given back to the queue."
    )
    ai_map_concurrency: int = Field(4, ge=1, le=64, description="Chunks of one long page summarised at once.")
