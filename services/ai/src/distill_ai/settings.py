"""AI stage settings (DISTILL_AI_*)."""

from __future__ import annotations

from typing import Literal

from distill_core.settings import Settings
from pydantic import Field, SecretStr


class AiSettings(Settings):
    ai_provider: Literal["local", "openai"] = Field("local", description="Default provider.")
    ai_base_url: str = Field("https://api.openai.com/v1", description="OpenAI-compatible endpoint.")
    ai_api_key: SecretStr | None = None
    ai_model: str = Field("", description="Default model name (provider-specific).")
    ai_summary_sentences: int = Field(3, ge=1, le=20)
    ai_keywords: int = Field(8, ge=1, le=50)
    ai_insights: int = Field(3, ge=0, le=20)
