"""Named AI models, shared by the AI stage (to call them) and the gateway (to check names).

The default model comes from DISTILL_AI_PROVIDER / DISTILL_AI_BASE_URL / DISTILL_AI_API_KEY /
DISTILL_AI_MODEL; more named models from DISTILL_AI_MODELS, a JSON object
{"name": {"provider": "openai", "base_url": "...", "model": "...", ...}}.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from distill_core.errors import InvalidInput

DEFAULT_NAME = "default"


class ModelConfig(BaseModel):
    provider: Literal["local", "openai"] = "local"
    base_url: str = "https://api.openai.com/v1"
    api_key: SecretStr | None = None
    model: str = ""
    timeout: float = Field(120.0, gt=0)


class _Env(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DISTILL_AI_", extra="ignore")

    provider: Literal["local", "openai"] = "local"
    base_url: str = "https://api.openai.com/v1"
    api_key: SecretStr | None = None
    model: str = ""
    models: str = ""


def load_models(**overrides: Any) -> dict[str, ModelConfig]:
    """Every configured model by name; "default" is always there."""
    env = _Env(**overrides)
    models = {
        DEFAULT_NAME: ModelConfig(provider=env.provider, base_url=env.base_url, api_key=env.api_key, model=env.model)
    }
    if env.models.strip():
        try:
            extra = json.loads(env.models)
            for name, cfg in extra.items():
                models[str(name)] = ModelConfig.model_validate(cfg)
        except (ValueError, AttributeError, ValidationError) as e:
            raise ValueError(f"DISTILL_AI_MODELS is not a valid JSON object of model settings: {e}") from None
    return models


def check_model_name(name: str, models: dict[str, ModelConfig] | None = None) -> None:
    """INVALID_ARGUMENT for a model name the deployment does not know ("" means the default)."""
    if not name:
        return
    models = models if models is not None else load_models()
    if name not in models:
        known = ", ".join(sorted(models))
        raise InvalidInput(f"ai.model {name!r} is not a configured model (known: {known})")
