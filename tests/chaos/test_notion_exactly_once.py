"""Exactly one Notion page per item, whatever is killed (DESIGN.md section 2, issue 6).

Two real `python -m distill_notion` processes publish N items (100 by default; 1,000
with `make chaos`, or DISTILL_NOTION_CHAOS_ITEMS) to the local Notion API server, while:

* a killer SIGKILLs each of them at a random moment 0.2-2.5 s into its work, again and
  again, and starts a new one each time, as Kubernetes would;
* failpoints make some items kill their process on purpose at the two worst moments:
  right after Notion created the page and before its id was recorded, and right after
  a batch of blocks was appended and before that was known;
* the server answers slowly (latency), so kills land while requests are in flight.

Then the audit: every item succeeded; the database holds exactly N live pages, one per
Distill ID; each page's body is whole (every paragraph exactly once); each exports row
names its item's page.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from distill_core import nats as dnats
from distill_core.db.session import make_engine
from distill_core.settings import Settings
from sqlalchemy import text

from tests.fakes.notion_server import FakeNotion, plain
from tests.helpers import item_rows, make_tenant, task_status
from tests.integration.notion_env import TERMINAL, article, seed

pytestmark = [pytest.mark.chaos, pytest.mark.integration, pytest.mark.timeout(900)]

FULL = os.environ.get("DISTILL_CHAOS_FULL") == "1"
ITEMS = int(os.environ.get("DISTILL_NOTION_CHAOS_ITEMS", "1000" if FULL else "100"))
WORKERS = 2
LONG_EVERY = 4  # every 4th article is long enough to need appends after the create
CRASH_EVERY = 10  # every 10th item crashes its worker once after create, every 10th (offset) after an append


def spawn(env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "a") as out:
        return subprocess.Popen([sys.executable, "-m", "distill_notion"], env=env, stdout=out, stderr=subprocess.STDOUT)


def ready_count(log: Path) -> int:
    return log.read_text(errors="replace").count("stage runner started") if log.exists() else 0


def paragraphs_of(n: int) -> int:
    return 260 if n % LONG_EVERY == 0 else 8


def input_of(n: int) -> str:
    url = f"https://example.com/articles/{n}"
    if n % CRASH_EVERY == 3:
        return url + "?crash-create"
    if n % CRASH_EVERY == 8 and n % LONG_EVERY == 0:
        return url + "?crash-append"
    return url


async def test_sigkill_at_random_points_leaves_exactly_one_page_per_item(
    nats_url: str, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(nats_url=nats_url, database_url=database_url)
    nc = await dnats.connect(settings, "test-notion-chaos")
    js = dnats.jetstream(nc)
    await dnats.ensure_topology(js, settings)
    await js.purge_stream("JOBS")
    engine = make_engine(database_url, pool_size=4)
    fake = FakeNotion(token=f"secret_chaos_{uuid.uuid4().hex}", rate=60, burst=60, latency=0.03).start()
    db, [ds] = fake.add_database()
    env = dict(
        os.environ,
        DISTILL_NATS_URL=nats_url,
        DISTILL_DATABASE_URL=database_url,
        DISTILL_EXPORT_DESTINATION="notion",
        DISTILL_NOTION_TOKEN=fake.token,
        DISTILL_NOTION_BASE_URL=fake.url,
        DISTILL_NOTION_DATABASE_ID=db,
        DISTILL_NOTION_RATE_LIMIT="50",
        DISTILL_NOTION_RATE_BURST="5",
        DISTILL_NOTION_CONCURRENCY="4",
        DISTILL_NOTION_ACK_WAIT="3",
        DISTILL_NOTION_BACKOFF="0.2,0.5,1",
        DISTILL_NOTION_MAX_ATTEMPTS="20",
        DISTILL_FAILPOINTS="notion.crash_after_create=crash-create#attempt1,"
        "notion.crash_after_append=crash-append#attempt1",
        DISTILL_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    rng = random.Random(int(os.environ.get("DISTILL_CHAOS_SEED", "6")))
    logs = [tmp_path / f"notion-{i}.log" for i in range(WORKERS)]
    procs = [spawn(env, log) for log in logs]
    started = [0] * WORKERS  # "stage runner started" lines in each log when its process was spawned
    kills = 0
    try:
        tenant, _ = await make_tenant(engine)
        docs = [article(n, paragraphs=paragraphs_of(n), words=30) for n in range(ITEMS)]
        task_id, items = await seed(engine, tenant, docs, inputs=[input_of(n) for n in range(ITEMS)])
        from distill_core.events import publish_all

        from tests.helpers import first_jobs

        t0 = time.monotonic()
        await publish_all(js, first_jobs(items))
        deadline = t0 + (240 if not FULL else 1200)
        kill_at: list[float | None] = [None] * WORKERS  # when to kill each worker, once it is ready
        while await task_status(engine, task_id) not in TERMINAL:
            if time.monotonic() > deadline:
                rows = await item_rows(engine, task_id)
                raise AssertionError(
                    f"not finished after {deadline - t0:.0f} s ({kills} kills): {Counter(r['status'] for r in rows)}"
                )
            now = time.monotonic()
            for i in range(WORKERS):
                if procs[i].poll() is not None:  # killed (by us or a failpoint): start another, as Kubernetes would
                    procs[i], started[i], kill_at[i] = spawn(env, logs[i]), ready_count(logs[i]), None
                elif kill_at[i] is None and ready_count(logs[i]) > started[i]:
                    kill_at[i] = now + rng.uniform(0.2, 2.5)  # a random point of its work
                elif kill_at[i] is not None and now >= kill_at[i]:
                    os.kill(procs[i].pid, signal.SIGKILL)
                    procs[i].wait()
                    kills += 1
            await asyncio.sleep(0.05)
        seconds = time.monotonic() - t0
        audit = await _audit(engine, fake, ds, task_id, items)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        fake.stop()
        await engine.dispose()
        await nc.close()

    hits = Counter(re.findall(r"failpoint (notion\.\w+) hit", "".join(log.read_text() for log in logs)))
    with capsys.disabled():
        print(
            f"\nnotion chaos: items={ITEMS} pages={audit['pages']} trashed={audit['trashed']} "
            f"succeeded={audit['succeeded']} failed={audit['failed']} sigkills={kills} "
            f"failpoint_crashes={dict(hits)} requests={len(fake.requests)} "
            f"creates={fake.count('POST', '/v1/pages$')} lookups={fake.count('POST', '/query$')} "
            f"rate_429={fake.rate_limited} seconds={seconds:.1f}"
        )
    assert audit["failed"] == 0, audit["errors"]
    assert audit["succeeded"] == ITEMS
    assert audit["pages"] == ITEMS, f"{audit['pages']} live pages for {ITEMS} items"
    assert audit["duplicates"] == [] and audit["missing"] == []
    assert audit["incomplete"] == [], f"pages with a missing or doubled block: {audit['incomplete'][:5]}"
    assert audit["wrong_export_rows"] == []
    assert kills >= 3 and hits["notion.crash_after_create"] >= 1 and hits["notion.crash_after_append"] >= 1
    assert fake.rate_limited == 0


async def _audit(engine: Any, fake: FakeNotion, ds: str, task_id: uuid.UUID, items: list[dict]) -> dict[str, Any]:
    rows = await item_rows(engine, task_id)
    ids = [str(i["id"]) for i in items]
    live = fake.pages(ds)
    by_id: dict[str, list[dict]] = {}
    for p in live:
        by_id.setdefault(plain(p["properties"]["Distill ID"]["rich_text"]), []).append(p)
    incomplete = []
    for n, item_id in enumerate(ids):
        for p in by_id.get(item_id, []):
            body = fake.page_text(p["id"])
            counts = [body.count(f"Paragraph {k} of article {n}: ") for k in range(paragraphs_of(n))]
            if counts != [1] * paragraphs_of(n) or body.count(f"Summary of article {n}.") != 1:
                incomplete.append((n, Counter(counts)))
    async with engine.connect() as conn:
        exports = {
            str(r.item_id): r
            for r in await conn.execute(
                text(
                    "SELECT item_id, external_id, state FROM exports WHERE destination = 'notion' "
                    "AND item_id = ANY(CAST(:ids AS uuid[]))"
                ),
                {"ids": ids},
            )
        }
    wrong = [
        i
        for i in ids
        if i not in exports
        or exports[i].state != "complete"
        or [p["id"] for p in by_id.get(i, [])] != [exports[i].external_id]
    ]
    return {
        "pages": len(live),
        "trashed": len(fake.pages(ds, trashed=True)) - len(live),
        "succeeded": sum(r["status"] == "succeeded" for r in rows),
        "failed": sum(r["status"] == "failed" for r in rows),
        "errors": Counter((r["error"] or {}).get("code") for r in rows if r["status"] != "succeeded"),
        "duplicates": [i for i, ps in by_id.items() if len(ps) > 1],
        "missing": [i for i in ids if i not in by_id],
        "incomplete": incomplete,
        "wrong_export_rows": wrong,
    }
