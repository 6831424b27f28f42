"""The openai provider against a local OpenAI-compatible server speaking the real wire format."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from distill_ai.errors import AiBadOutput
from distill_ai.providers.openai import OpenAIProvider
from distill_ai.ratelimit import RateLimiter
from distill_ai.results import Document, Usage, Want
from distill_core.ai_models import ModelConfig
from distill_core.errors import (
    ConnectionFailure,
    PermanentError,
    RateLimited,
    TimeoutFailure,
    UpstreamError,
)

from tests.fakes.openai_server import FakeOpenAI, Reply

KEY = "sk-test-0123456789"
PAGE = (
    "How Small Harbours Adapted to Winter Storms\n"
    "When the first storm reached the coast in November, the harbour master of Vik moved forty boats. "
    "It saved the village 2.3 million kroner in repairs. Engineers raised the outer walls by 1.5 metres."
)
GOOD = {"summary": "Harbours got ready for storms.", "keywords": ["harbour", "storm"], "insights": ["Walls +1.5 m."]}


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    srv = FakeOpenAI(api_key=KEY)
    yield srv
    srv.close()


def provider(llm: FakeOpenAI, **cfg: object) -> OpenAIProvider:
    c = ModelConfig(provider="openai", base_url=llm.url, api_key=KEY, model="fake-gpt", **cfg)  # type: ignore[arg-type]
    return OpenAIProvider("test", c, limiter=RateLimiter(c.rpm, c.tpm))


async def test_a_request_on_the_wire(llm: FakeOpenAI) -> None:
    p = provider(llm)
    usage = Usage()
    a = await p.analyze(Document(PAGE, title="Harbours"), Want(n_keywords=5, n_insights=2), usage)
    await p.aclose()
    (req,) = llm.completions()
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.headers["content-type"] == "application/json"
    body = req.body or {}
    assert body["stream"] is False and body["model"] == "fake-gpt"
    assert body["response_format"] == {"type": "json_object"} and body["max_tokens"] == 700
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert a.summary and "the harbour master of Vik moved forty boats" in a.summary
    assert 0 < len(a.keywords) <= 5 and len(a.insights) == 2
    assert a.insights[0] == "It saved the village 2.3 million kroner in repairs."
    assert usage.requests == 1 and usage.prompt_tokens > 50 and usage.completion_tokens > 10
    assert not usage.estimated and p.served_model == "fake-gpt"


async def test_json_schema_mode_sends_the_schema(llm: FakeOpenAI) -> None:
    p = provider(llm, response_format="json_schema")
    await p.analyze(Document(PAGE), Want(keywords=False), Usage())
    await p.aclose()
    rf = (llm.completions()[0].body or {})["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["schema"]["required"] == ["summary", "insights"]


async def test_a_malformed_answer_is_repaired_once(llm: FakeOpenAI) -> None:
    llm.queue(Reply(content="Sure! Here is the summary you asked for: {summary: harbours}"))
    p = provider(llm)
    usage = Usage()
    a = await p.analyze(Document(PAGE), Want(), usage)
    await p.aclose()
    assert a.summary
    assert usage.requests == 2 and usage.repairs == 1
    repair = llm.completions()[1].body or {}
    assert repair["messages"][-2]["content"].startswith("Sure! Here is")
    assert "not valid JSON" in repair["messages"][-1]["content"]


async def test_malformed_twice_is_ai_bad_output(llm: FakeOpenAI) -> None:
    llm.queue(Reply(content="{oops"), Reply(json={"summary": ""}))
    p = provider(llm)
    with pytest.raises(AiBadOutput, match='unusable analysis answer, also after a repair request: "summary"'):
        await p.analyze(Document(PAGE), Want(), Usage())
    await p.aclose()
    assert len(llm.completions()) == 2


async def test_an_answer_cut_by_the_token_limit_is_repaired(llm: FakeOpenAI) -> None:
    llm.queue(Reply(json={**GOOD, "summary": "word " * 400}))
    p = provider(llm, max_output_tokens=100)
    usage = Usage()
    a = await p.analyze(Document(PAGE), Want(), usage)
    await p.aclose()
    assert usage.repairs == 1
    assert "cut off by the token limit" in (llm.completions()[1].body or {})["messages"][-1]["content"]
    assert a.summary and len(a.summary.split()) < 100


async def test_429_with_retry_after_is_rate_limited_and_pauses_the_endpoint(llm: FakeOpenAI) -> None:
    llm.queue(Reply(429, retry_after=2, message="Rate limit reached for gpt in organization org-x"))
    p = provider(llm)
    with pytest.raises(RateLimited) as e:
        await p.analyze(Document(PAGE), Want(), Usage())
    assert e.value.retry_after == 2 and e.value.code == "AI_RATE_LIMITED"
    assert "Rate limit reached for gpt" in e.value.message
    t0 = time.monotonic()
    await p.analyze(Document(PAGE), Want(), Usage())  # the next request waits out the pause
    assert time.monotonic() - t0 >= 1.5
    await p.aclose()


async def test_a_server_side_rate_limit_is_honoured(llm: FakeOpenAI) -> None:
    llm.rpm = 1
    p = provider(llm)
    await p.analyze(Document(PAGE), Want(), Usage())
    with pytest.raises(RateLimited) as e:
        await p.analyze(Document(PAGE), Want(), Usage())
    await p.aclose()
    assert e.value.retry_after is not None and 55 <= e.value.retry_after <= 60


@pytest.mark.parametrize(
    ("reply", "error", "code"),
    [
        (Reply(500), UpstreamError, "AI_UPSTREAM_ERROR"),
        (Reply(503, retry_after=4), UpstreamError, "AI_UPSTREAM_ERROR"),
        (Reply(400, message="This model's maximum context length is 8192 tokens"), PermanentError, "AI_BAD_REQUEST"),
        (Reply(403, message="Country not supported"), PermanentError, "AI_AUTH_FAILED"),
        (Reply(429, code="insufficient_quota", message="You exceeded your quota"), PermanentError, "AI_QUOTA_EXCEEDED"),
        (Reply(raw=b"<html>Bad gateway</html>"), UpstreamError, "AI_UPSTREAM_ERROR"),
    ],
)
async def test_errors_are_classified(llm: FakeOpenAI, reply: Reply, error: type, code: str) -> None:
    llm.queue(reply)
    p = provider(llm)
    with pytest.raises(error) as e:
        await p.analyze(Document(PAGE), Want(), Usage())
    await p.aclose()
    assert e.value.code == code
    assert KEY not in str(e.value)
    if reply.status == 503:
        assert e.value.retry_after == 4


async def test_a_wrong_key_and_an_unknown_model_are_permanent(llm: FakeOpenAI) -> None:
    c = ModelConfig(provider="openai", base_url=llm.url, api_key="sk-wrong", model="fake-gpt")
    p = OpenAIProvider("test", c, limiter=RateLimiter())
    with pytest.raises(PermanentError) as e:
        await p.analyze(Document(PAGE), Want(), Usage())
    await p.aclose()
    assert (
        e.value.code == "AI_AUTH_FAILED" and "Incorrect API key" in e.value.message and "sk-wrong" not in str(e.value)
    )
    p = provider(llm)
    p.model = "gpt-nonexistent"
    with pytest.raises(PermanentError) as e:
        await p.analyze(Document(PAGE), Want(), Usage())
    await p.aclose()
    assert e.value.code == "AI_MODEL_NOT_FOUND" and "ends in /v1" in e.value.message


async def test_a_slow_answer_times_out(llm: FakeOpenAI) -> None:
    llm.queue(Reply(json=GOOD, delay=3))
    p = provider(llm, timeout=0.5)
    t0 = time.monotonic()
    with pytest.raises(TimeoutFailure, match=r"did not answer within 0\.5 s"):
        await p.analyze(Document(PAGE), Want(), Usage())
    await p.aclose()
    assert time.monotonic() - t0 < 2


async def test_an_unreachable_endpoint(llm: FakeOpenAI) -> None:
    llm.close()
    p = provider(llm)
    with pytest.raises(ConnectionFailure, match="could not be reached"):
        await p.analyze(Document(PAGE), Want(), Usage())
    await p.aclose()


async def test_long_text_is_map_reduced_and_parts_are_not_paid_twice(llm: FakeOpenAI) -> None:
    text = "\n\n".join(
        f"Part {i}: the harbour of village {i} rebuilt its breakwater in {2000 + i}. The work took {i + 2} months."
        for i in range(60)
    )
    p = provider(llm, chunk_tokens=300)
    progress: list[int] = []

    async def on_progress(percent: int, message: str) -> None:
        progress.append(percent)

    usage = Usage()
    a = await p.analyze(Document(text, title="Harbours"), Want(), usage, on_progress)
    n = usage.chunks
    assert n >= 5 and usage.requests >= n + 1
    prompts = [r.prompt for r in llm.completions()]
    assert sum("part 1 of" in x for x in prompts) == 1 and sum("consecutive parts" in x for x in prompts) >= 1
    assert a.summary and a.keywords
    assert progress[-1] == 80 and progress == sorted(progress)
    # The retry of an item whose combine step failed reads no part again.
    before = len(llm.completions())
    llm.when("consecutive parts", Reply(500), times=1)
    with pytest.raises(UpstreamError):
        await p.analyze(Document(text, title="Harbours"), Want(), Usage())
    usage2 = Usage()
    await p.analyze(Document(text, title="Harbours"), Want(), usage2)
    await p.aclose()
    assert usage2.cached == n
    assert not [x for x in (r.prompt for r in llm.completions()[before:]) if "This is part" in x]


async def test_requests_per_minute_are_shared_by_concurrent_items(llm: FakeOpenAI) -> None:
    p = provider(llm, rpm=120)  # two a second
    t0 = time.monotonic()
    await asyncio.gather(*(p.analyze(Document(PAGE), Want(), Usage()) for _ in range(5)))
    elapsed = time.monotonic() - t0
    await p.aclose()
    # At most a second's worth at once (2), then one every half second: the fifth leaves after 1.5 s.
    assert elapsed >= 1.45
    times = sorted(r.at for r in llm.completions())
    assert times[-1] - times[0] >= 1.0, times


async def test_a_caption_becomes_a_recipe(llm: FakeOpenAI) -> None:
    caption = (
        "Garlic pasta for two\nIngredients:\n- 200 g spaghetti\n- 3 cloves garlic\n"
        "1) Boil the pasta in salted water until done.\n2) Fry the garlic in oil for a minute.\nServes 2"
    )
    p = provider(llm)
    r = await p.extract_recipe(Document(caption, title="Instagram"), Usage())
    assert r is not None
    assert r["ingredients"] == ["200 g spaghetti", "3 cloves garlic"]
    assert r["instructions"] == ["Boil the pasta in salted water until done.", "Fry the garlic in oil for a minute."]
    assert r["cook_time_minutes"] == 15 and r["total_time_minutes"] == 15  # "15 minutes" read as a number
    assert r["source"] == "ai"
    assert await p.extract_recipe(Document("A walk along the harbour at dawn."), Usage()) is None
    await p.aclose()
