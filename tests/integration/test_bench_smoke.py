"""The benchmarks of `make bench` in their smoke size (`python -m bench --smoke` runs the same),
so that they never rot: each starts what it measures (a Distill stack, RQ, Celery, bare
NATS), moves its items through and reports every figure with its target. Results go to a
temporary folder, not over bench/results/. (The parser's are in test_parser_bench.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bench.__main__
import bench.common
from bench import jetstream_sync, latency, memory, orchestration, pipeline_real, watch_latency

pytestmark = [pytest.mark.bench, pytest.mark.timeout(300)]


@pytest.fixture(autouse=True)
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(bench.common, "RESULTS", tmp_path)
    monkeypatch.setattr(bench.__main__, "RESULTS", tmp_path)
    return tmp_path


def written(results: Path, module: str) -> dict[str, dict]:
    data = json.loads((results / f"{module}.json").read_text())
    return {f["name"]: f for f in data["figures"]}


def test_orchestration_smoke(results: Path) -> None:
    figs = {f.name: f for f in orchestration.main(smoke=True)}
    for system in ("distill", "rq", "celery", "bare_nats"):
        assert figs[f"orchestration.{system}_items_per_s"].value > 0, system
    assert figs["orchestration.distill_vs_rq"].target == 8
    assert figs["orchestration.distill_share_of_bare_nats"].target == 0.25
    parts = [f.value for n, f in figs.items() if ".cpu_ms_per_item." in n and not n.endswith(".total")]
    assert len(parts) == 6 and all(v > 0 for v in parts)  # the 3 stages, PostgreSQL, NATS, the driver
    assert figs["orchestration.distill.cpu_ms_per_item.total"].value == pytest.approx(sum(parts))
    assert set(written(results, "orchestration")) == set(figs)


def test_pipeline_real_smoke(results: Path) -> None:
    figs = {f.name: f for f in pipeline_real.main(smoke=True)}
    assert figs["pipeline.real_items_per_s"].value > 0
    assert figs["pipeline.real_items_per_s_2_parsers"].value > 0
    assert figs["pipeline.1_parser.cpu_ms_per_item.parser"].value > 0
    assert figs["pipeline.2_parsers.cpu_ms_per_item.ai"].value > 0
    assert set(written(results, "pipeline_real")) == set(figs)


def test_latency_smoke(results: Path) -> None:
    figs = {f.name: f for f in latency.main(smoke=True)}
    assert 0 < figs["latency.create_task_1_url_p50_ms"].value <= figs["latency.create_task_1_url_p99_ms"].value
    assert figs["latency.create_task_1000_urls_p99_ms"].value > 0
    assert set(written(results, "latency")) == set(figs)


def test_watch_latency_smoke(results: Path) -> None:
    watch_latency.main(smoke=True)
    figs = written(results, "watch_latency")
    # every event reached every watcher, and the slow readers were dropped, not waited for
    assert figs["events delivered, 1 watchers"]["value"] == 1.0
    assert figs["events delivered, 50 watchers"]["value"] == 1.0
    assert figs["watch latency p99, 50 watchers"]["value"] > 0
    assert [f.name for f in bench.__main__.figures_of("watch_latency", None)] == list(figs)  # make bench's table


def test_memory_smoke(results: Path) -> None:
    figs = {f.name: f for f in memory.main(smoke=True)}
    for svc in memory.SERVICES:
        assert figs[f"memory.{svc}_max_rss_mb"].value > 20, svc  # a Python service, sampled while running
    assert figs["memory.backlog_items_per_s"].value > 0
    assert set(written(results, "memory")) == set(figs)


def test_jetstream_sync_smoke(results: Path) -> None:
    figs = {f.name: f for f in jetstream_sync.main(smoke=True)}
    assert figs["jetstream_sync.default_fsync_items_per_s"].value > 0
    assert figs["jetstream_sync.sync_always_items_per_s"].value > 0
    assert set(written(results, "jetstream_sync")) == set(figs)
