"""The AI stage against a real (small, often wrong) model: every item ends SUCCEEDED or with a clear AI error.

SmolLM2-135M invents facts and ignores instructions; the point is not the quality of its
answers but that the stage survives whatever comes back: structured output is checked,
repaired or refused, every item reaches a terminal state in bounded time, usage is real.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from distill_ai.providers.openai import OpenAIProvider
from distill_ai.results import Usage
from distill_ai.settings import AiSettings
from distill_core import nats as dnats
from distill_core.ai_models import DEFAULT_NAME
from distill_core.db.session import make_engine

from tests.helpers import make_tenant
from tests.integration.ai_fixture import finished, run_ai, submit_parsed
from tests.unit.ai.samples import CAPTION, SAMPLES, parsed

pytestmark = [pytest.mark.llm, pytest.mark.timeout(1200)]

AI_CODE_PREFIX = "AI_"


@pytest.fixture
async def env(
    llm_endpoint: str, nats_url: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[dict[str, Any]]:
    monkeypatch.setenv("DISTILL_AI_BACKOFF", "1")
    monkeypatch.setenv("DISTILL_AI_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("DISTILL_AI_CONCURRENCY", "2")
    # The same model asked without a schema: small models then often miss keys (AI_BAD_OUTPUT is expected).
    plain = AiSettings().models()[DEFAULT_NAME].model_dump(mode="json") | {"response_format": "json_object"}
    monkeypatch.setenv("DISTILL_AI_MODELS", json.dumps({"plain": plain}))
    settings = AiSettings(nats_url=nats_url, database_url=database_url)
    nc = await dnats.connect(settings, "test-llm")
    js = dnats.jetstream(nc)
    await dnats.ensure_topology(js, settings)
    engine = make_engine(database_url, pool_size=4)
    tenant, _ = await make_tenant(engine)
    runner = await run_ai(settings)
    yield {"settings": settings, "js": js, "engine": engine, "tenant": tenant}
    await runner.stop()
    await engine.dispose()
    await nc.close()


def _page(name: str) -> dict[str, Any]:
    """A sample page as the parser stores it (recipe.html has a JSON-LD recipe)."""
    from distill_parser import extract

    p = SAMPLES / name
    ex = extract.extract(p.read_bytes(), "text/html" if p.suffix == ".html" else "text/plain", f"http://s.test/{name}")
    return {"text": ex.text, "title": ex.title, "language": ex.language, "recipe": ex.recipe}


def _assert_terminal_and_clear(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        assert r["status"] in ("succeeded", "failed"), r
        if r["status"] == "failed":
            code = r["error"]["code"]
            assert code.startswith(AI_CODE_PREFIX), f"not a clear AI error: {r['error']}"
            assert r["error"]["message"]


async def test_the_pipeline_survives_a_real_small_model(env: dict[str, Any]) -> None:
    long_text = "\n\n".join(parsed(n)[0] for n in ("article.html", "field-notes.txt")) * 2  # more than one chunk
    pages = [
        _page("article.html"),
        _page("field-notes.txt"),
        _page("recipe.html"),
        {"text": CAPTION, "title": "Reel by @pasta_lover"},
        {"text": long_text, "title": "Harbours and gardens"},
        {"text": "", "title": "A photo gallery"},
    ]
    t0 = time.monotonic()
    task, _ = await submit_parsed(env["engine"], env["js"], env["tenant"], pages, {"extract_recipe": True})
    plain, _ = await submit_parsed(env["engine"], env["js"], env["tenant"], [_page("article.html")], {"model": "plain"})
    rows = await finished(env["engine"], task, timeout=900)
    plain_rows = await finished(env["engine"], plain, timeout=600)
    elapsed = time.monotonic() - t0
    _assert_terminal_and_clear(rows + plain_rows)
    for r in rows + plain_rows:
        print(f"{r['status']:<9} attempts={r['attempts']} {r['message'] or r['error']} usage={r['usage']}")
    print(f"all items terminal after {elapsed:.0f} s")
    *real, empty = rows
    assert empty["status"] == "succeeded" and empty["no_content"] and empty["usage"]["requests"] == 0
    ok = [r for r in real if r["status"] == "succeeded"]
    assert ok, "with a schema-constrained answer at least one page should succeed"
    for r in ok:
        assert r["provider"] == "openai" and isinstance(r["summary"], str) and r["summary"]
        assert r["usage"]["requests"] >= 1 and r["usage"]["prompt_tokens"] > 0 and r["usage"]["completion_tokens"] > 0
        assert not r["usage"].get("estimated"), "llama.cpp's server reports token usage"
    long_row = rows[4]
    if long_row["status"] == "succeeded":
        assert long_row["usage"]["chunks"] >= 2 and long_row["usage"]["requests"] >= 3  # map-reduce
    recipe_row = rows[2]
    if recipe_row["status"] == "succeeded":
        assert recipe_row["recipe"] == pages[2]["recipe"]  # the parser's JSON-LD recipe, not the model's
    caption = rows[3]
    if caption["status"] == "succeeded" and caption["recipe"] is not None:
        assert caption["recipe"]["source"] == "ai" and isinstance(caption["recipe"]["ingredients"], list)


async def test_one_request_on_the_wire(llm_endpoint: str) -> None:
    """The endpoint accepts our request shape (stream off, structured output) and reports usage."""
    cfg = AiSettings().models()[DEFAULT_NAME]
    p = OpenAIProvider("wire", cfg)
    usage = Usage()
    content, finish = await p.chat(
        [{"role": "user", "content": 'Answer with the JSON object {"ok": true}.'}],
        usage,
        schema_name="ok",
        schema={"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]},
    )
    await p.aclose()
    assert json.loads(content)["ok"] in (True, False)
    assert finish in ("stop", "length")
    assert usage.requests == 1 and usage.prompt_tokens > 0 and not usage.estimated
