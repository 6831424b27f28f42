"""Tests against a real model behind an OpenAI-compatible server (`make test-llm` starts one).

scripts/test_llm.sh serves SmolLM2-135M-Instruct with llama.cpp's server and sets
DISTILL_AI_PROVIDER=openai, DISTILL_AI_BASE_URL, DISTILL_AI_MODEL (and the model's
small-context knobs) before running `pytest -m llm tests/llm`. Any other
OpenAI-compatible endpoint works the same way.
"""

from __future__ import annotations

import os

import httpx
import pytest


@pytest.fixture(scope="session")
def llm_endpoint() -> str:
    """The endpoint under test; fails (never skips) when there is none."""
    base = os.environ.get("DISTILL_AI_BASE_URL", "")
    if os.environ.get("DISTILL_AI_PROVIDER") != "openai" or not base:
        pytest.fail(
            "the llm tests need a model: run `make test-llm`, or set DISTILL_AI_PROVIDER=openai, "
            "DISTILL_AI_BASE_URL and DISTILL_AI_MODEL to an OpenAI-compatible endpoint"
        )
    try:
        httpx.get(base.rstrip("/") + "/models", timeout=10).raise_for_status()
    except httpx.HTTPError as e:
        pytest.fail(f"no OpenAI-compatible server answers at {base}: {e}")
    return base
