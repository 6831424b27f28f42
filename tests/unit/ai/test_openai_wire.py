"""Pure parts of the openai provider: request bodies and reading rate-limit headers."""

import email.utils

import httpx
import pytest
from distill_ai.providers.openai import OpenAIProvider, _groups, retry_after_seconds
from distill_ai.results import Want
from distill_core.ai_models import ModelConfig


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "6m0s"}, 360.0),
        ({"x-ratelimit-reset-tokens": "20ms"}, 0.02),
        ({}, None),
        ({"retry-after": "soon"}, None),
    ],
)
def test_retry_after(headers: dict, seconds: float | None) -> None:
    assert retry_after_seconds(httpx.Headers(headers)) == (pytest.approx(seconds) if seconds is not None else None)


def test_retry_after_as_a_date() -> None:
    when = email.utils.formatdate(1_000_030, usegmt=True)
    assert retry_after_seconds(httpx.Headers({"retry-after": when}), now=1_000_000) == pytest.approx(30)


@pytest.mark.parametrize("fmt", ["json_object", "json_schema", "json_object_schema", "none"])
def test_request_body(fmt: str) -> None:
    cfg = ModelConfig(provider="openai", model="m", response_format=fmt, max_output_tokens=99)
    p = OpenAIProvider("x", cfg)
    body = p._body([{"role": "user", "content": "JSON please"}], "analysis", {"type": "object"})
    assert body["stream"] is False and body["model"] == "m" and body["max_tokens"] == 99
    if fmt == "json_object":
        assert body["response_format"] == {"type": "json_object"}
    elif fmt == "json_schema":
        assert body["response_format"]["json_schema"]["name"] == "analysis"
    elif fmt == "json_object_schema":  # llama.cpp's server: the schema becomes a grammar
        assert body["response_format"] == {"type": "json_object", "schema": {"type": "object"}}
    else:
        assert "response_format" not in body


def test_newer_openai_models_take_max_completion_tokens() -> None:
    p = OpenAIProvider("x", ModelConfig(provider="openai", model="o3", token_param="max_completion_tokens"))
    body = p._body([{"role": "user", "content": "JSON"}], "a", {})
    assert "max_tokens" not in body and body["max_completion_tokens"] == 700


def test_reduce_groups_always_shrink() -> None:
    parts = [{"summary": "word " * 200} for _ in range(6)]
    assert len(_groups(parts, 100)) == 3  # none fit together: paired anyway
    assert len(_groups([{"summary": "a"}] * 6, 1000)) == 1
    assert Want().fields() == ["summary", "keywords", "insights"]
