"""Named AI models, shared by the AI stage (to call them) and the gateway (to check names).

The default model ("default") comes from DISTILL_AI_PROVIDER / DISTILL_AI_BASE_URL /
DISTILL_AI_API_KEY / DISTILL_AI_MODEL and the DISTILL_AI_* knobs below; more named models
come from DISTILL_AI_MODELS, a JSON object

    {"fast": {"provider": "openai", "base_url": "http://vllm:8000/v1", "model": "qwen2.5-7b", "rpm": 600},
     "gpt":  {"provider": "openai", "model": "gpt-4o-mini", "api_key_env": "OPENAI_API_KEY"}}

whose entries take the fields of `ModelConfig`. A named model that gives no key uses the
default model's key when it talks to the same base URL (never another endpoint's key);
`api_key_env` names a variable to read its key from, so keys stay out of the JSON.
"""

from __future__ import annotations

import json
import os
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from distill_core.errors import InvalidInput

DEFAULT_NAME = "default"
DEFAULT_BASE_URL = "https://api.openai.com/v1"

Provider = Literal["local", "openai"]
ResponseFormat = Literal["json_object", "json_schema", "json_object_schema", "none"]


class ModelConfig(BaseModel):
    """How to reach and drive one model."""

    model_config = {"extra": "forbid"}

    provider: Provider = "local"
    base_url: str = DEFAULT_BASE_URL
    api_key: SecretStr | None = None
    api_key_env: str | None = Field(None, description="Variable holding the key (instead of api_key).")
    model: str = ""
    timeout: float = Field(120.0, gt=0, description="Seconds one request may take in total.")
    rpm: int = Field(0, ge=0, description="Requests per minute (0: no limit of ours).")
    tpm: int = Field(0, ge=0, description="Tokens per minute, prompt + completion (0: no limit of ours).")
    chunk_tokens: int = Field(3000, ge=200, description="Input tokens per request; longer text is map-reduced.")
    max_input_tokens: int = Field(48_000, ge=200, description="Text beyond this many tokens is not read.")
    max_output_tokens: int = Field(700, ge=32, description="Completion tokens asked for per request.")
    temperature: float = Field(0.2, ge=0, le=2)
    response_format: ResponseFormat = Field("json_object", description="How structured output is requested.")
    token_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"

    def key(self) -> str | None:
        """The API key, if any (from api_key or the variable api_key_env names)."""
        if self.api_key is not None:
            return self.api_key.get_secret_value() or None
        if self.api_key_env:
            return os.environ.get(self.api_key_env) or None
        return None

    @property
    def label(self) -> str:
        """The model's name as stored with its output."""
        return self.model or ("extractive-v1" if self.provider == "local" else "default")


class ModelSettings(BaseSettings):
    """The DISTILL_AI_* variables that describe the default model and name the others."""

    model_config = SettingsConfigDict(env_prefix="DISTILL_", extra="ignore")

    ai_provider: Provider = Field("local", description="Default provider: local (no network) or openai.")
    ai_base_url: str = Field(DEFAULT_BASE_URL, description="OpenAI-compatible endpoint of the default model.")
    ai_api_key: SecretStr | None = None
    ai_model: str = Field("", description="Default model name (provider-specific).")
    ai_models: str = Field("", description="More named models: a JSON object name -> ModelConfig fields.")
    ai_request_timeout: float = Field(120.0, gt=0, description="Seconds one model request may take.")
    ai_rpm: int = Field(0, ge=0, description="Requests per minute to the default model (0: none of ours).")
    ai_tpm: int = Field(0, ge=0, description="Tokens per minute to the default model (0: none of ours).")
    ai_chunk_tokens: int = Field(3000, ge=200, description="Input tokens per request before map-reduce.")
    ai_max_input_tokens: int = Field(48_000, ge=200, description="Tokens of a page read at most.")
    ai_max_output_tokens: int = Field(700, ge=32, description="Completion tokens asked for per request.")
    ai_temperature: float = Field(0.2, ge=0, le=2)
    ai_response_format: ResponseFormat = Field(
        "json_object",
        description="json_object (OpenAI, most servers), json_schema (OpenAI structured outputs, vLLM), "
        "json_object_schema (llama.cpp's server: a JSON object constrained by a schema) or none.",
    )

    def default_model(self) -> ModelConfig:
        return ModelConfig(
            provider=self.ai_provider,
            base_url=self.ai_base_url,
            api_key=self.ai_api_key,
            model=self.ai_model,
            timeout=self.ai_request_timeout,
            rpm=self.ai_rpm,
            tpm=self.ai_tpm,
            chunk_tokens=self.ai_chunk_tokens,
            max_input_tokens=self.ai_max_input_tokens,
            max_output_tokens=self.ai_max_output_tokens,
            temperature=self.ai_temperature,
            response_format=self.ai_response_format,
        )

    def models(self) -> dict[str, ModelConfig]:
        """Every configured model by name; "default" is always there."""
        default = self.default_model()
        return {DEFAULT_NAME: default, **parse_named_models(self.ai_models, default)}


def parse_named_models(raw: str, default: ModelConfig) -> dict[str, ModelConfig]:
    """The models of a DISTILL_AI_MODELS value (ValueError saying what is wrong)."""
    if not raw.strip():
        return {}
    try:
        extra = json.loads(raw)
    except ValueError as e:
        raise ValueError(f"DISTILL_AI_MODELS is not valid JSON: {e}") from None
    if not isinstance(extra, dict):
        raise ValueError("DISTILL_AI_MODELS must be a JSON object of name -> model settings")
    out: dict[str, ModelConfig] = {}
    for name, cfg in extra.items():
        if not isinstance(cfg, dict):
            raise ValueError(f"DISTILL_AI_MODELS[{name!r}] must be an object of model settings")
        try:
            m = ModelConfig.model_validate(cfg)
        except ValidationError as e:
            raise ValueError(f"DISTILL_AI_MODELS[{name!r}] is not valid: {e}") from None
        same_endpoint = m.base_url.rstrip("/") == default.base_url.rstrip("/")
        if m.api_key is None and not m.api_key_env and same_endpoint:
            m = m.model_copy(update={"api_key": default.api_key})
        out[str(name)] = m
    return out


def load_models(**overrides: Any) -> dict[str, ModelConfig]:
    """Every configured model by name, from the environment ("default" is always there)."""
    return ModelSettings(**overrides).models()


def check_model_name(name: str, models: dict[str, ModelConfig] | None = None) -> None:
    """INVALID_ARGUMENT for a model name the deployment does not know ("" means the default)."""
    if not name:
        return
    models = models if models is not None else load_models()
    if name not in models:
        known = ", ".join(sorted(models))
        raise InvalidInput(f"ai.model {name!r} is not a configured model (known: {known})")
