"""The Notion client against the local Notion API server: answers mapped to Distill's errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from distill_core.errors import PermanentError, RateLimited, Unauthenticated
from distill_notion.notion_api import AmbiguousWrite, NotionApi
from distill_notion.notion_blocks import paragraph, rich_text
from distill_notion.ratelimit import LocalRateLimiter

from tests.fakes.notion_server import FakeNotion, Fault

pytestmark = pytest.mark.integration


class NoLimiter:
    """A client with no rate limiting at all (the naive burst)."""

    async def acquire(self) -> float:
        return 0.0

    async def pause(self, seconds: float) -> None:
        return None


@pytest.fixture
def fake() -> Iterator[FakeNotion]:
    f = FakeNotion(rate=50, burst=50).start()
    yield f
    f.stop()


def make_api(fake: FakeNotion, *, version: str = "2025-09-03", token: str | None = None, **kw: object) -> NotionApi:
    limiter = kw.pop("limiter", None) or LocalRateLimiter(1000, burst=1000)
    return NotionApi(fake.url, token or fake.token, version, limiter, **kw)  # type: ignore[arg-type]


@pytest.fixture
async def api(fake: FakeNotion) -> AsyncIterator[NotionApi]:
    a = make_api(fake, timeout=2.0)
    yield a
    await a.close()


def page_body(ds: str, item: str, children: list | None = None) -> dict:
    return {
        "parent": {"type": "data_source_id", "data_source_id": ds},
        "properties": {"Name": {"title": rich_text("T")}, "Distill ID": {"rich_text": rich_text(item)}},
        "children": children or [],
    }


async def test_create_and_find_by_property_in_a_data_source(fake: FakeNotion, api: NotionApi) -> None:
    db, [ds] = fake.add_database()
    assert (await api.retrieve_database(db))["data_sources"][0]["id"] == ds
    page = await api.create_page(page_body(ds, "item-1", paragraph("hello")))
    found = await api.query(
        "data_source", ds, {"filter": {"property": "Distill ID", "rich_text": {"equals": "item-1"}}}
    )
    assert [p["id"] for p in found["results"]] == [page["id"]]
    assert await api.count_children(page["id"]) == 1


async def test_database_parents_under_the_2022_version(fake: FakeNotion) -> None:
    db, _ = fake.add_database()
    api = make_api(fake, version="2022-06-28")
    try:
        schema = (await api.retrieve_database(db))["properties"]
        assert schema["Distill ID"]["type"] == "rich_text"
        body = page_body("", "item-2")
        body["parent"] = {"type": "database_id", "database_id": db}
        page = await api.create_page(body)
        found = await api.query(
            "database", db, {"filter": {"property": "Distill ID", "rich_text": {"equals": "item-2"}}}
        )
        assert [p["id"] for p in found["results"]] == [page["id"]]
        # A data source parent does not exist in that version: Notion's validation error, permanent.
        with pytest.raises(PermanentError, match="data_source_id should be not present"):
            await api.create_page(page_body(fake.databases[db]["data_sources"][0], "x"))
    finally:
        await api.close()


@pytest.mark.parametrize(
    ("children", "message"),
    [
        (
            [{"type": "paragraph", "paragraph": {"rich_text": [{"type": "text", "text": {"content": "x" * 2001}}]}}],
            "text.content.length should be ≤ `2000`, instead was `2001`",
        ),
        ([{"type": "divider", "divider": {}}] * 101, "body.children.length should be ≤ `100`, instead was `101`"),
        (
            [
                {
                    "type": "bulleted_list_item",
                    "bulleted_list_item": {
                        "rich_text": [],
                        "children": [
                            {
                                "type": "bulleted_list_item",
                                "bulleted_list_item": {
                                    "rich_text": [],
                                    "children": [{"type": "paragraph", "paragraph": {"rich_text": []}}],
                                },
                            }
                        ],
                    },
                }
            ],
            "At most 2 levels of nesting",
        ),
    ],
)
async def test_limits_are_enforced_as_permanent_validation_errors(
    fake: FakeNotion, api: NotionApi, children: list, message: str
) -> None:
    _, [ds] = fake.add_database()
    with pytest.raises(PermanentError) as e:
        await api.create_page(page_body(ds, "too-big", children))
    assert e.value.code == "NOTION_VALIDATION_ERROR" and message in e.value.message
    assert fake.pages() == []


async def test_oversized_payloads_are_refused(fake: FakeNotion, api: NotionApi) -> None:
    _, [ds] = fake.add_database()
    children = [{"type": "paragraph", "paragraph": {"rich_text": rich_text("é" * 20_000)}} for _ in range(20)]
    with pytest.raises(PermanentError, match="request body size"):
        await api.create_page(page_body(ds, "huge", children))


async def test_a_bad_token_is_unauthenticated_and_never_echoed(fake: FakeNotion) -> None:
    wrong = "secret_wrong_token_value_42"
    api = make_api(fake, token=wrong)
    try:
        with pytest.raises(Unauthenticated) as e:
            await api.retrieve_database("0f8fad5bd9cb469fa16570867728950e")
        assert wrong not in str(e.value) and "DISTILL_NOTION_TOKEN" in e.value.message
    finally:
        await api.close()
    # Even a message that quotes the token comes back scrubbed.
    api = make_api(fake)
    fake.fail(Fault(400, code="validation_error", message=f"token {fake.token} is odd"))
    try:
        with pytest.raises(PermanentError) as e2:
            await api.retrieve_database("0f8fad5bd9cb469fa16570867728950e")
        assert fake.token not in e2.value.message and "[redacted]" in e2.value.message
    finally:
        await api.close()


async def test_conflicts_and_5xx_on_reads_are_retried_here(fake: FakeNotion, api: NotionApi) -> None:
    _, [ds] = fake.add_database()
    fake.fail(Fault(409, method="POST", path="/v1/pages$"), Fault(503, method="GET"), Fault(500, method="GET"))
    page = await api.create_page(page_body(ds, "conflict"))
    assert len(fake.pages()) == 1
    assert await api.count_children(page["id"]) == 0
    assert [r.status for r in fake.requests] == [409, 200, 503, 500, 200]


async def test_a_failed_write_is_not_repeated_blindly(fake: FakeNotion, api: NotionApi) -> None:
    _, [ds] = fake.add_database()
    fake.fail(Fault(502, apply=True, method="POST", path="/v1/pages$"))
    with pytest.raises(AmbiguousWrite):
        await api.create_page(page_body(ds, "maybe"))
    assert len(fake.pages()) == 1  # it did land; the caller must look before creating again
    assert fake.count("POST", "/v1/pages$") == 1


async def test_a_timeout_on_a_write_is_ambiguous(fake: FakeNotion) -> None:
    _, [ds] = fake.add_database()
    api = make_api(fake, timeout=0.5)
    fake.fail(Fault(None, apply=True, delay=2.0, method="POST", path="/v1/pages$"))
    try:
        with pytest.raises(AmbiguousWrite, match="did not answer"):
            await api.create_page(page_body(ds, "slow"))
    finally:
        await api.close()
    assert len(fake.pages()) == 1


async def test_retry_after_is_honoured_and_shared(fake: FakeNotion) -> None:
    _, [ds] = fake.add_database()
    limiter = LocalRateLimiter(100, burst=100)
    api = make_api(fake, limiter=limiter, max_wait=5.0)
    fake.fail(Fault(429, retry_after=1, method="POST"))
    try:
        t0 = time.monotonic()
        await api.create_page(page_body(ds, "later"))
        assert time.monotonic() - t0 >= 0.95
        assert [r.status for r in fake.requests] == [429, 200]
        # A longer Retry-After than we wait here goes back to the runner (no attempt used).
        fake.fail(Fault(429, retry_after=30, method="GET"))
        with pytest.raises(RateLimited) as e:
            await api.retrieve_data_source(ds)
        assert e.value.retry_after == 30
    finally:
        await api.close()


async def test_the_server_rejects_a_burst_over_the_rate_and_the_limiter_avoids_it() -> None:
    fake = FakeNotion(rate=3, burst=5).start()
    db, _ = fake.add_database()
    naive = make_api(fake, retries=0, max_wait=0.001)
    paced = make_api(fake, limiter=LocalRateLimiter(3, burst=3))
    try:
        outcomes = await asyncio.gather(*(naive.retrieve_database(db) for _ in range(30)), return_exceptions=True)
        assert all(isinstance(o, dict | RateLimited) for o in outcomes)
        outcomes = [429 if isinstance(o, RateLimited) else 200 for o in outcomes]
        assert outcomes.count(429) >= 12 and fake.rate_limited == outcomes.count(429)
        await asyncio.sleep(2)  # let the server's bucket refill
        fake.rate_limited = 0
        t0 = time.monotonic()
        for _ in range(9):
            await paced.retrieve_database(db)
        assert fake.rate_limited == 0
        assert time.monotonic() - t0 >= 1.9  # 9 requests at 3/s after a burst of 3
    finally:
        await naive.close()
        await paced.close()
        fake.stop()
