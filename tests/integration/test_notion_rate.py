"""One request budget per Notion token across every replica: the shared limiter, and a burst of 50 items."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from distill_core import nats as dnats
from distill_core.db.session import make_engine
from distill_core.errors import RateLimited
from distill_core.settings import Settings
from distill_notion.ratelimit import SharedRateLimiter

from tests.fakes.notion_server import FakeNotion
from tests.helpers import item_rows, make_tenant
from tests.integration.notion_env import article, run_task, seed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

BURST_ITEMS = int(os.environ.get("DISTILL_NOTION_BURST_ITEMS", "50"))
REPLICAS = 3


def max_in_window(times: list[float], seconds: float) -> int:
    times = sorted(times)
    best = j = 0
    for i, t in enumerate(times):
        while times[j] < t - seconds:
            j += 1
        best = max(best, i - j + 1)
    return best


async def test_two_replicas_share_one_rate(database_url: str) -> None:
    key = f"test:{uuid.uuid4().hex}"
    engines = [make_engine(database_url, pool_size=4) for _ in range(2)]
    limiters = [SharedRateLimiter(e, key, 10.0, burst=2) for e in engines]  # two "replicas"
    stamps: list[float] = []

    async def one(limiter: SharedRateLimiter) -> None:
        await limiter.acquire()
        stamps.append(time.monotonic())

    try:
        t0 = time.monotonic()
        await asyncio.gather(*(one(limiters[i % 2]) for i in range(30)))
        elapsed = time.monotonic() - t0
        assert elapsed >= (30 - 2) / 10.0 - 0.1, f"30 requests at 10/s took only {elapsed:.2f} s"
        assert max_in_window(stamps, 1.0) <= 10 + 2 + 1
        assert min(lim.requests for lim in limiters) == 15
    finally:
        for e in engines:
            await e.dispose()


async def test_a_long_wait_gives_the_job_back_and_a_pause_holds_everyone(database_url: str) -> None:
    key = f"test:{uuid.uuid4().hex}"
    engine = make_engine(database_url, pool_size=2)
    try:
        limiter = SharedRateLimiter(engine, key, 1.0, burst=1, max_wait=2.0)
        await limiter.acquire()
        await limiter.acquire()  # waits ~1 s
        await limiter.pause(30)
        with pytest.raises(RateLimited) as e:
            await limiter.acquire()
        assert 28 <= e.value.retry_after <= 31  # type: ignore[operator]
        assert limiter.requests == 2  # nothing reserved by the refused request
    finally:
        await engine.dispose()


def spawn_replica(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, Path]:
    """One `python -m distill_notion` process (a replica of the stage), its output in `log`."""
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "distill_notion"], env=env, stdout=out, stderr=subprocess.STDOUT)
    return proc, log


@pytest.fixture
async def replicas_env(nats_url: str, database_url: str, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    settings = Settings(nats_url=nats_url, database_url=database_url)
    nc = await dnats.connect(settings, "test-notion-rate")
    js = dnats.jetstream(nc)
    await dnats.ensure_topology(js, settings)
    await js.purge_stream("JOBS")
    engine = make_engine(database_url, pool_size=4)
    fake = FakeNotion(token=f"secret_burst_{uuid.uuid4().hex}", rate=3.0, burst=10).start()
    db, [ds] = fake.add_database()
    env = dict(
        os.environ,
        DISTILL_NATS_URL=nats_url,
        DISTILL_DATABASE_URL=database_url,
        DISTILL_EXPORT_DESTINATION="notion",
        DISTILL_NOTION_TOKEN=fake.token,
        DISTILL_NOTION_BASE_URL=fake.url,
        DISTILL_NOTION_DATABASE_ID=db,
        DISTILL_NOTION_MAX_WAIT="60",
        DISTILL_LOG_LEVEL="INFO",
        DISTILL_LOG_FORMAT="json",
        PYTHONUNBUFFERED="1",
    )
    procs = [spawn_replica(env, tmp_path / f"notion-{n}.log") for n in range(REPLICAS)]
    deadline = time.monotonic() + 60
    while not all("stage runner started" in log.read_text() for _, log in procs):
        assert time.monotonic() < deadline, "the notion replicas did not start"
        assert all(p.poll() is None for p, _ in procs), "a notion replica exited"
        await asyncio.sleep(0.2)
    tenant, _ = await make_tenant(engine)
    yield {"js": js, "engine": engine, "fake": fake, "ds": ds, "tenant": tenant, "procs": procs}
    for p, _ in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p, _ in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
    fake.stop()
    await engine.dispose()
    await nc.close()


async def test_a_burst_of_50_items_on_three_replicas_stays_under_the_rate(
    replicas_env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    e = replicas_env
    fake: FakeNotion = e["fake"]
    task_id, items = await seed(e["engine"], e["tenant"], [article(n) for n in range(BURST_ITEMS)])
    t0 = time.monotonic()
    status = await run_task(e["js"], e["engine"], items, task_id, timeout=240)
    elapsed = time.monotonic() - t0
    rows = await item_rows(e["engine"], task_id)
    assert status == "succeeded", {r["error"]["code"] for r in rows if r["error"]}
    assert fake.rate_limited == 0, f"{fake.rate_limited} requests went over Notion's rate"
    assert sorted(fake.distill_ids(e["ds"])) == sorted(str(i["id"]) for i in items)  # one page each

    times = sorted(r.at for r in fake.requests)
    span = times[-1] - times[0]
    average = (len(times) - 1) / span
    # The limiter lets a burst of 3 go at once, then one request every 1/3 s: in any window of
    # W seconds Notion sees at most 3 W + 3 requests (plus up to 1 s of scheduling and network jitter:
    # requests leave at their slot or a little after it, never before).
    sustained = (len(times) - 3) / span
    per_10s = max_in_window(times, 10.0)
    for w in (2.0, 5.0, 10.0, 20.0):
        assert max_in_window(times, w) <= 3 * w + 3 + 3, f"{max_in_window(times, w)} requests in {w:g} s"
    for p, _ in e["procs"]:
        p.send_signal(signal.SIGTERM)
    for p, _ in e["procs"]:
        p.wait(30)
    processed = [int(m) for _, log in e["procs"] for m in re.findall(r'"processed":\s*(\d+)', log.read_text())]
    assert len(processed) == REPLICAS and all(n > 0 for n in processed), f"work per replica: {processed}"
    with capsys.disabled():
        print(
            f"\nnotion burst: items={BURST_ITEMS} replicas={REPLICAS} requests={len(times)} seconds={elapsed:.1f} "
            f"average_rate={average:.2f}/s sustained_rate={sustained:.2f}/s "
            f"max_in_1s={max_in_window(times, 1.0)} max_in_10s={per_10s} "
            f"rate_429={fake.rate_limited} per_replica={processed}"
        )
