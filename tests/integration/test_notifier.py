"""The notifier consumes EVENTS and POSTs each event to the configured webhooks."""

from __future__ import annotations

import asyncio
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import pytest

from distill.v1 import task_pb2
from distill_core import nats as dnats
from distill_core.events import publish_all, task_event
from distill_notifier.app import serve
from distill_notifier.settings import NotifierSettings

pytestmark = pytest.mark.integration


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("content-length", 0))
                outer.bodies.append({"body": json.loads(self.rfile.read(n)), "id": self.headers["Distill-Event-Id"]})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a: object) -> None:
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}/hook"


async def test_events_reach_webhooks(nats_url: str) -> None:
    rx = Receiver()
    settings = NotifierSettings(nats_url=nats_url, notifier_webhooks=rx.url, health_port=0)
    nc = await dnats.connect(settings, "test")
    js = dnats.jetstream(nc)
    await dnats.ensure_topology(js, settings, stages=())
    stop = asyncio.Event()
    runner = asyncio.create_task(serve(settings, stop))
    try:
        await asyncio.sleep(0.5)
        task = task_pb2.Task(id="t-1", status=task_pb2.TASK_STATUS_SUCCEEDED)
        await publish_all(js, [task_event("tenant-a", task, "t-1:task:succeeded:x", terminal=True)])
        for _ in range(100):
            if rx.bodies:
                break
            await asyncio.sleep(0.05)
        assert rx.bodies, "no webhook call"
        got = rx.bodies[-1]
        assert got["id"] == "t-1:task:succeeded:x"
        assert got["body"]["task"]["status"] == "TASK_STATUS_SUCCEEDED"
        assert got["body"]["tenant_id"] == "tenant-a"
    finally:
        stop.set()
        await runner
        await nc.close()
        rx.srv.shutdown()
