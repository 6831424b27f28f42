"""The AI stage on the real runner, NATS JetStream and PostgreSQL: local provider and a fake OpenAI endpoint."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from distill_ai.settings import AiSettings
from distill_core import nats as dnats
from distill_core.db.session import make_engine

from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.helpers import make_tenant
from tests.integration.ai_fixture import finished, run_ai, submit_parsed
from tests.unit.ai.samples import CAPTION, SAMPLES, parsed

pytestmark = pytest.mark.integration

KEY = "sk-stage-test"


@pytest.fixture
async def env(nats_url: str, database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    monkeypatch.setenv("DISTILL_AI_BACKOFF", "0.2")
    monkeypatch.setenv("DISTILL_AI_MAX_ATTEMPTS", "3")
    base = AiSettings(nats_url=nats_url, database_url=database_url)
    nc = await dnats.connect(base, "test-ai")
    js = dnats.jetstream(nc)
    await dnats.ensure_topology(js, base)
    await js.purge_stream("JOBS")
    engine = make_engine(database_url, pool_size=4)
    tenant, _ = await make_tenant(engine)
    yield {"nats_url": nats_url, "database_url": database_url, "js": js, "engine": engine, "tenant": tenant}
    await engine.dispose()
    await nc.close()


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    srv = FakeOpenAI(api_key=KEY)
    yield srv
    srv.close()


def page(name: str) -> dict[str, Any]:
    text, title, lang = parsed(name)
    return {"text": text, "title": title, "language": lang}


async def test_local_provider_on_the_sample_pages(env: dict[str, Any]) -> None:
    from distill_parser import extract

    recipe_html = (SAMPLES / "recipe.html").read_bytes()
    with_json_ld = extract.extract(recipe_html, "text/html", "https://weekend-kitchen.example/pancakes")
    pages = [
        page("article.html"),
        page("field-notes.txt"),
        {"text": with_json_ld.text, "title": with_json_ld.title, "recipe": with_json_ld.recipe},
        {"text": CAPTION, "title": "Instagram"},
        {"text": "", "title": "An image gallery"},
        {"text": "🍝🍝 !!", "description": "", "title": "Reel"},
        {"text": "", "description": "Harbour villages rebuilt their breakwaters before the winter storms came."},
    ]
    runner = await run_ai(AiSettings(nats_url=env["nats_url"], database_url=env["database_url"]))
    try:
        task_id, _ = await submit_parsed(env["engine"], env["js"], env["tenant"], pages, {"extract_recipe": True})
        rows = await finished(env["engine"], task_id)
    finally:
        await runner.stop()
    assert [r["status"] for r in rows] == ["succeeded"] * len(pages)
    article, notes, recipe, caption, empty, emoji, described = rows
    assert article["summary"].startswith("When the first storm") and len(article["keywords"]) == 8
    assert article["insights"] and article["recipe"] is None
    assert (article["provider"], article["model"], article["no_content"]) == ("local", "extractive-v1", False)
    assert article["usage"]["requests"] == 0 and article["usage"]["prompt_tokens"] == 0
    assert "Forty-two families now rent plots" in notes["summary"] or "Elm Street" in notes["summary"]
    assert recipe["recipe"]["source"] != "ai" and recipe["recipe"] == with_json_ld.recipe  # the parser's, kept
    assert caption["recipe"]["source"] == "ai" and caption["recipe"]["title"] == "Creamy garlic pasta"
    assert len(caption["recipe"]["ingredients"]) == 6
    for r in (empty, emoji):
        assert r["no_content"] and r["summary"] is None and r["keywords"] == [] and r["recipe"] is None
        assert r["message"] == "no content: nothing to summarise"
    assert described["summary"].startswith("Harbour villages rebuilt") and not described["no_content"]


async def test_openai_provider_through_the_pipeline(env: dict[str, Any], llm: FakeOpenAI) -> None:
    """Good pages, a 429 with Retry-After, a flaky 500, a model that only answers garbage, an empty page."""
    llm.when("PAGE-RATE", Reply(429, retry_after=1), times=1)
    llm.when("PAGE-FLAKY", Reply(500), times=1)
    llm.when("PAGE-GARBAGE", Reply(content="I am a small model and I like turtles."))
    pages = [
        page("article.html"),
        {"text": "PAGE-RATE. " + parsed("field-notes.txt")[0], "title": "Garden"},
        {"text": "PAGE-FLAKY. The harbour master moved forty boats to the inner basin in 2024.", "title": "Boats"},
        {"text": "PAGE-GARBAGE. The villages share one tide table and one radio bulletin.", "title": "Tides"},
        {"text": "", "title": "Nothing here"},
    ]
    settings = AiSettings(
        nats_url=env["nats_url"],
        database_url=env["database_url"],
        ai_provider="openai",
        ai_base_url=llm.url,
        ai_api_key=KEY,
        ai_model="fake-gpt",
    )
    runner = await run_ai(settings)
    t0 = time.monotonic()
    try:
        task_id, _ = await submit_parsed(env["engine"], env["js"], env["tenant"], pages)
        rows = await finished(env["engine"], task_id)
    finally:
        await runner.stop()
    good, rate, flaky, garbage, empty = rows
    assert good["status"] == "succeeded" and good["attempts"] == 1
    assert (good["provider"], good["model"]) == ("openai", "fake-gpt")
    u = good["usage"]
    assert u["requests"] == 1 and u["prompt_tokens"] > 100 and u["completion_tokens"] > 10 and u["latency_ms"] >= 0
    assert u["prompt_version"] == "v1" and u["model_name"] == "default"
    assert good["summary"] and good["keywords"] and good["insights"]
    # 429 + Retry-After: waited, then succeeded, without using an attempt.
    assert rate["status"] == "succeeded" and rate["attempts"] == 1
    assert time.monotonic() - t0 >= 1.0
    # 500: retried with back-off, and that did use an attempt.
    assert flaky["status"] == "succeeded" and flaky["attempts"] == 2
    # Garbage: one repair per attempt, retried once, then failed for good with a clear code.
    assert garbage["status"] == "failed" and garbage["attempts"] == 2 and garbage["error_code"] == "AI_BAD_OUTPUT"
    assert garbage["error"]["retryable"] is False and "also after a repair request" in garbage["error"]["message"]
    assert sum("PAGE-GARBAGE" in r.prompt for r in llm.completions()) == 4
    # No text: done without asking the model.
    assert empty["status"] == "succeeded" and empty["no_content"]
    assert all(r.body and r.body["stream"] is False for r in llm.completions())
    assert not any("Nothing here" in r.prompt for r in llm.completions())


async def test_refusals_fail_at_once_and_named_models_are_used(
    env: dict[str, Any], llm: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "DISTILL_AI_MODELS",
        json.dumps(
            {
                "wrong-key": {"provider": "openai", "base_url": llm.url, "api_key": "sk-nope", "model": "fake-gpt"},
                "good": {"provider": "openai", "base_url": llm.url, "api_key": KEY, "model": "fake-gpt"},
            }
        ),
    )
    settings = AiSettings(nats_url=env["nats_url"], database_url=env["database_url"])  # default: local
    runner = await run_ai(settings)
    try:
        bad, _ = await submit_parsed(
            env["engine"], env["js"], env["tenant"], [page("article.html")], {"model": "wrong-key"}
        )
        good, _ = await submit_parsed(
            env["engine"],
            env["js"],
            env["tenant"],
            [{"text": CAPTION, "title": "Reel"}],
            {"model": "good", "extract_recipe": True, "generate_insights": False},
        )
        unknown, _ = await submit_parsed(
            env["engine"], env["js"], env["tenant"], [page("article.html")], {"model": "gone"}
        )
        (b,) = await finished(env["engine"], bad)
        (g,) = await finished(env["engine"], good)
        (u,) = await finished(env["engine"], unknown)
    finally:
        await runner.stop()
    assert b["status"] == "failed" and b["attempts"] == 1 and b["error_code"] == "AI_AUTH_FAILED"
    assert "sk-nope" not in json.dumps(b["error"])
    assert g["status"] == "succeeded" and g["provider"] == "openai" and g["insights"] == []
    assert g["recipe"]["source"] == "ai" and "200g spaghetti" in g["recipe"]["ingredients"]
    assert g["usage"]["requests"] == 2 and g["usage"]["model_name"] == "good"
    recipe_prompt = next(r.body for r in llm.completions() if "cooking recipe" in r.prompt)
    assert recipe_prompt is not None and recipe_prompt["response_format"] == {"type": "json_object"}
    assert '"insights"' not in next(r.prompt for r in llm.completions() if "cooking recipe" not in r.prompt)
    assert u["status"] == "failed" and u["error_code"] == "AI_UNKNOWN_MODEL"
