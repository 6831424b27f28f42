"""Nothing accepted is ever lost: the chaos suite (DESIGN.md section 2, issue 8).

Each scenario runs a task of 300 items (1,000 with `make chaos`, or DISTILL_CHAOS_ITEMS)
through a real stack while a fault is injected, then audits the result. Each prints its
figures (items, lost, duplicates, time to recover).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import nats
import pytest
from distill.internal.v1 import jobs_pb2
from distill.v1 import common_pb2

from tests.chaos.harness import (
    Env,
    Result,
    kill_repeatedly,
    run_scenario,
    start_env,
    stop_env,
)

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]

RESULTS = Path(os.environ.get("DISTILL_CHAOS_RESULTS", Path(__file__).resolve().parents[2] / "bench" / "results"))


def report(r: Result, capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print("\n" + r.line())
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "chaos.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[r.scenario] = r.__dict__
    path.write_text(json.dumps(data, indent=2))


def assert_nothing_lost(r: Result, expect_failed: int = 0) -> None:
    assert r.lost == 0, f"{r.lost} items never reached a terminal state"
    assert r.failed == expect_failed, f"unexpected failures: {r.failures_by_code}"
    assert r.succeeded == r.items - expect_failed
    assert r.duplicate_exports == 0, "an item was exported twice, or a succeeded item has no export"
    assert r.missing_item_events == 0, "a finished item has no terminal event in EVENTS"
    assert r.task_event, "the task's terminal event is missing from EVENTS"


def urls_of(e: Env, names: list[str] | None = None) -> list[str]:
    names = names or sorted(p.name for p in e.pages.folder.iterdir())
    return [e.pages.url(n) for n in names]


@pytest.mark.parametrize("service", ["parser", "ai", "notion", "notifier", "gateway"])
async def test_sigkill_a_service_repeatedly(service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    e = start_env(tmp_path)
    try:
        r = await run_scenario(e, f"kill-{service}", urls_of(e), kill_repeatedly(service))
        report(r, capsys)
        assert r.faults >= 1, "no fault was injected (the task finished first?)"
        assert_nothing_lost(r)
    finally:
        stop_env(e)


async def test_nats_server_restart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    e = start_env(tmp_path)

    async def inject(e: Env, done: asyncio.Event) -> None:
        for i in range(2):  # 1 s into the task (300 items can be done within 3 s), then 3 s later
            try:
                await asyncio.wait_for(done.wait(), 3.0 if i else 1.0)
                return
            except TimeoutError:
                await asyncio.to_thread(e.restart_nats, 1.0)

    try:
        r = await run_scenario(e, "restart-nats", urls_of(e), inject)
        report(r, capsys)
        assert r.faults >= 1
        assert_nothing_lost(r)
    finally:
        stop_env(e)


async def test_postgres_restart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    e = start_env(tmp_path)

    async def inject(e: Env, done: asyncio.Event) -> None:
        for i in range(2):  # 1 s into the task (300 items can be done within 3 s), then 3 s later
            try:
                await asyncio.wait_for(done.wait(), 3.0 if i else 1.0)
                return
            except TimeoutError:
                await asyncio.to_thread(e.restart_postgres, 1.5)

    try:
        r = await run_scenario(e, "restart-postgres", urls_of(e), inject)
        report(r, capsys)
        assert r.faults >= 1
        assert_nothing_lost(r)
    finally:
        stop_env(e)


async def test_gateway_killed_between_commit_and_publish(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Every new task kills the gateway right after its commit; the client retries with
    # the same idempotency key and the outbox relay publishes the accepted items.
    e = start_env(tmp_path, env={"DISTILL_FAILPOINTS": "gateway.crash_before_publish"})
    try:
        r = await run_scenario(e, "gateway-commit-crash", urls_of(e))
        report(r, capsys)
        assert "gateway | exited with code 137" in e.stack.log.read_text()
        assert_nothing_lost(r)
    finally:
        stop_env(e)


async def test_worker_dies_after_commit_before_ack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Workers die after committing a batch and before publishing the hand-off and
    # acking: the redelivered jobs find their stage done and only repeat the hand-off.
    marked = [f"commitcrash-{i}.html" for i in range(3)]
    e = start_env(tmp_path, env={"DISTILL_FAILPOINTS": "runner.crash_after_commit=commitcrash"}, extra_pages=marked)
    try:
        r = await run_scenario(e, "crash-after-commit", urls_of(e))
        report(r, capsys)
        assert "exited with code 137" in e.stack.log.read_text()
        assert_nothing_lost(r)
    finally:
        stop_env(e)


async def test_poison_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Three pages kill the parser on every attempt; a malformed job and a job naming a
    # missing item are published straight to JetStream.
    poison = [f"poison-{i}.html" for i in range(3)]
    e = start_env(
        tmp_path,
        env={"DISTILL_FAILPOINTS": "runner.crash_on_input=poison", "DISTILL_PARSER_MAX_ATTEMPTS": "3"},
        extra_pages=poison,
    )
    try:
        nc = await nats.connect(e.nats.url)
        js = nc.jetstream()
        await js.publish("distill.jobs.parse.normal", b"\xff\x00 not a job")
        missing = jobs_pb2.Job(
            item_id="00000000-0000-4000-8000-000000000001", task_id="x", tenant_id="x", stage=common_pb2.STAGE_PARSE
        )
        await js.publish("distill.jobs.parse.normal", missing.SerializeToString())
        await nc.close()
        r = await run_scenario(e, "poison", urls_of(e))
        report(r, capsys)
        assert_nothing_lost(r, expect_failed=len(poison))
        assert r.failures_by_code == {"POISON_MESSAGE": len(poison)}
        assert r.dead_letters.get("POISON_MESSAGE") == len(poison)
        assert r.dead_letters.get("MALFORMED_JOB") == 1
        assert r.dead_letters.get("MISSING_ITEM") == 1
    finally:
        stop_env(e)
