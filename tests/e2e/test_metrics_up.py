"""Under `distill up` every service serves its own /metrics at the URL it printed, the counts
follow a run, and the JSON log lines of an item carry its ids and trace id in every service."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request

import pytest
from distill_client import AsyncClient
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.e2e

SERVICES = ("gateway", "parser", "ai", "notion", "notifier")


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(url, timeout=10) as r:
        body = r.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value for f in text_string_to_metric_families(body) for s in f.samples
    }


def total(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


async def test_every_service_serves_its_metrics_and_logs_follow_the_item(stack, pages) -> None:  # type: ignore[no-untyped-def]
    printed = re.findall(r"^distill: metrics (\w+)=(\S+)$", stack.log.read_text(errors="replace"), re.M)
    urls = dict(printed)
    assert sorted(urls) == sorted(SERVICES) and len(printed) == len(SERVICES), printed
    before = {name: scrape(url) for name, url in urls.items()}
    async with AsyncClient(stack.gateway, stack.api_key) as client:
        task = await client.submit([pages.url("article.html"), pages.url("no-such-page")])
        [_ async for _ in client.watch(task.id)]
        done = await client.get_task(task.id, include_items=True)
    missing = next(i for i in done.items if i.input.endswith("no-such-page"))
    ok = next(i for i in done.items if i.input.endswith("article.html"))

    async def after(name: str, metric: str, want: float, **labels: str) -> None:
        got = None
        for _ in range(50):  # the last counts land just after the terminal event
            got = total(scrape(urls[name]), metric, **labels) - total(before[name], metric, **labels)
            if got == want:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{name}: {metric}{labels} went up by {got}, not {want}")

    await after("parser", "distill_stage_items_total", 1, stage="parse", outcome="done")
    await after("parser", "distill_stage_items_total", 1, stage="parse", outcome="fail")
    await after("parser", "distill_dead_letters_total", 1, stage="parse", code="HTTP_NOT_FOUND")
    await after("ai", "distill_stage_items_total", 1, stage="ai", outcome="done")
    await after("notion", "distill_stage_items_total", 1, stage="notion", outcome="done")
    labels = {"grpc_service": "distill.v1.Pipeline", "grpc_method": "CreateTask", "grpc_code": "OK"}
    await after("gateway", "grpc_server_handled_total", 1, **labels)
    assert total(scrape(urls["notifier"]), "distill_notifier_events_total") > total(
        before["notifier"], "distill_notifier_events_total"
    )
    # Each service's own: the parser has no AI counts, the gateway no stage counts.
    parser_now, gateway_now = scrape(urls["parser"]), scrape(urls["gateway"])
    assert total(parser_now, "distill_stage_items_total", stage="ai") == 0
    assert total(gateway_now, "distill_stage_items_total") == 0
    assert any(n == "distill_queue_pending_jobs" for n, _ in gateway_now)
    assert total(gateway_now, "distill_queue_metrics_errors_total") == 0  # NATS lets the gateway read them

    # Logs: JSON lines, tagged by service; the item's lines carry its ids and the task's trace id.
    lines = []
    for raw in stack.log.read_text(errors="replace").splitlines():
        tag, _, rest = raw.partition(" | ")
        if rest.startswith("{"):
            lines.append((tag.strip(), json.loads(rest)))
    [(svc, failed)] = [
        (s, x) for s, x in lines if x.get("event") == "attempt failed" and x.get("item_id") == missing.id
    ]
    assert svc == "parser" and failed["service"] == "parser" and failed["stage"] == "parse"
    assert failed["task_id"] == task.id and failed["attempt"] == 1 and re.fullmatch(r"[0-9a-f]{32}", failed["trace_id"])
    [(_, created)] = [(s, x) for s, x in lines if x.get("event") == "task created" and x.get("task_id") == task.id]
    assert created["service"] == "gateway" and created["trace_id"] == failed["trace_id"]
    assert ok.id != missing.id
