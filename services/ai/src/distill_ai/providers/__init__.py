"""Providers behind one interface: `local` (no network) and `openai` (any OpenAI-compatible endpoint)."""

from __future__ import annotations

from distill_core.ai_models import ModelConfig

from distill_ai.providers.base import Progress, Provider
from distill_ai.providers.local import LocalProvider
from distill_ai.providers.openai import OpenAIProvider

__all__ = ["LocalProvider", "OpenAIProvider", "Progress", "Provider", "make_provider"]


def make_provider(name: str, cfg: ModelConfig, *, max_rate_wait: float = 30.0, map_concurrency: int = 4) -> Provider:
    """The provider for one named model."""
    if cfg.provider == "local":
        return LocalProvider(cfg.model)
    return OpenAIProvider(name, cfg, max_rate_wait=max_rate_wait, map_concurrency=map_concurrency)
