"""The whole pipeline in this event loop: the gateway's `serve()` and the three real stages
(parser, local AI, Markdown export) on their runners, on real NATS and PostgreSQL, fetching
from a loopback page server. Used by the metrics and tracing tests."""

from __future__ import annotations

import contextlib
import http.server
import shutil
import threading
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from distill.v1 import pipeline_pb2, pipeline_pb2_grpc
from distill_ai.settings import AiSettings
from distill_ai.stage import AiStage
from distill_cli.embedded import free_port
from distill_core.runner import StageRunner
from distill_notion.settings import ExportSettings
from distill_notion.stage import ExportStage
from distill_parser.settings import ParserSettings
from distill_parser.stage import ParseStage
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import task_status, wait_for
from tests.integration.gateway_fixture import Gateway, running_gateway

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "pages"
TERMINAL = ("succeeded", "failed", "partially_failed", "cancelled")


class PageServer:
    """samples/pages on loopback; /flaky-N answers 500 the first time, then the article."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for f in SAMPLES.iterdir():
            shutil.copy(f, folder / f.name)
        seen: set[str] = set()
        lock = threading.Lock()

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a: Any, **k: Any) -> None:
                super().__init__(*a, directory=str(folder), **k)

            def do_GET(self) -> None:
                if self.path.startswith("/flaky"):
                    with lock:
                        first = self.path not in seen
                        seen.add(self.path)
                    if first:
                        self.send_error(500, "try again")
                        return
                    self.path = "/article.html"
                super().do_GET()

            def log_message(self, *a: object) -> None:
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.srv.server_address[1]}"

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def close(self) -> None:
        self.srv.shutdown()
        self.srv.server_close()


@dataclass
class Pipeline:
    gw: Gateway
    pages: PageServer
    runners: list[StageRunner] = field(default_factory=list)

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.gw.settings.metrics_port}/metrics"

    async def submit(self, key: str, urls: list[str], metadata: tuple[tuple[str, str], ...] = (), **kw: Any) -> str:
        """CreateTask over gRPC (extra metadata: a traceparent, say); returns the task id."""
        async with grpc.aio.insecure_channel(self.gw.address) as ch:
            task = await pipeline_pb2_grpc.PipelineStub(ch).CreateTask(
                pipeline_pb2.CreateTaskRequest(urls=urls, **kw),
                metadata=(("authorization", f"Bearer {key}"), *metadata),
                timeout=15,
            )
        return task.id

    async def finished(self, task_id: str, timeout: float = 90) -> str:
        tid = uuid.UUID(task_id)

        async def done() -> bool:
            return await task_status(self.gw.engine, tid) in TERMINAL

        await wait_for(done, timeout=timeout, what=f"task {task_id} to finish")
        return await task_status(self.gw.engine, tid)

    async def stop_workers(self) -> None:
        for r in self.runners:
            await r.stop()
        self.runners.clear()


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample /metrics shows: (name, labels) -> value."""
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.headers.get_content_type() == "text/plain", r.headers
        body = r.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when none)."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


@contextlib.asynccontextmanager
async def running_pipeline(nats_url: str, database_url: str, folder: Path, **gateway: Any) -> AsyncIterator[Pipeline]:
    """The gateway (with /metrics on a free port) and one runner per stage."""
    pages = PageServer(folder / "pages")
    base = {"nats_url": nats_url, "database_url": database_url}
    try:
        async with running_gateway(nats_url, database_url, metrics_port=free_port(), **gateway) as gw:
            await gw.js.purge_stream("JOBS")  # no job left by other tests reaches these workers
            p = Pipeline(gw, pages)
            parser = ParserSettings(**base, parser_allow_private_networks=True)
            ai = AiSettings(**base)
            export = ExportSettings(**base, export_dir=folder / "exports")
            stages = [(ParseStage(parser), parser), (AiStage(ai), ai), (ExportStage(export), export)]
            try:
                for stage, settings in stages:
                    runner = StageRunner(stage, settings)  # type: ignore[arg-type]
                    await runner.start()
                    p.runners.append(runner)
                yield p
            finally:
                await p.stop_workers()
    finally:
        pages.close()


def quick_backoff(monkeypatch: Any) -> None:
    """Retries after 0.1 s at every stage (set before the settings are made)."""
    for svc in ("PARSER", "AI", "NOTION"):
        monkeypatch.setenv(f"DISTILL_{svc}_BACKOFF", "0.1")
