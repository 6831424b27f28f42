"""Server-Sent Events of the gateway's HTTP side: WatchTask and WatchTasks bridged to
`text/event-stream` (snapshot, item, task, ping), resumed with Last-Event-ID with nothing
missed, errors before the stream as problem details, and a browser that goes away
releases its watch."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from distill_core import subjects
from distill_core.settings import GatewaySettings
from distill_gateway.notifications import NotificationsServicer
from distill_gateway.pipeline import PipelineServicer
from distill_gateway.web.server import HttpServer, build_app

from tests.helpers import wait_for
from tests.integration.gateway_fixture import urls
from tests.integration.http_fixture import (  # noqa: F401 (fixture)
    Event,
    HttpGateway,
    http_fixture,
    running_http_gateway,
    sse_events,
)

pytestmark = pytest.mark.integration

HEARTBEAT = 0.5


@pytest.fixture(scope="module")
async def web(nats_url: str, database_url: str) -> AsyncIterator[HttpGateway]:
    with pytest.MonkeyPatch.context() as mp:  # a gateway without Web Push keys, too
        mp.delenv("DISTILL_VAPID_PUBLIC_KEY", raising=False)
        async with running_http_gateway(nats_url, database_url, watch_heartbeat=HEARTBEAT) as g:
            yield g


async def read_all(http: httpx.AsyncClient, path: str, **headers: str) -> tuple[httpx.Response, list[Event]]:
    """Every event until the server ends the stream (pings left out)."""
    async with http.stream("GET", path, headers=headers) as r:
        if r.status_code == 200:
            events = [e async for e in sse_events(r)]
        else:
            events = []
            await r.aread()
    return r, [e for e in events if e.event != "ping"]


async def test_a_task_streams_its_snapshot_its_changes_and_ends(http: httpx.AsyncClient) -> None:
    task = (await http.post("/v1/tasks", json={"urls": urls(2)})).json()
    path = f"/v1/tasks/{task['id']}/events"
    async with http.stream("GET", path) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"].startswith("no-cache")
        events = sse_events(r)
        snap = await anext(events)
        assert snap.event == "snapshot" and snap.retry == 2000
        assert snap.data["task"]["id"] == task["id"] and len(snap.data["task"]["items"]) == 2
        assert int(snap.id) == int(snap.data["sequence"])
        await http.post(f"/v1/tasks/{task['id']}:cancel")
        rest = [e async for e in events if e.event != "ping"]  # the server ends the stream itself
    assert [e.event for e in rest] == ["item", "item", "task"]
    assert {e.data["item"]["status"] for e in rest[:2]} == {"ITEM_STATUS_CANCELLED"}
    assert rest[-1].data["terminal"] and rest[-1].data["task"]["status"] == "TASK_STATUS_CANCELLED"
    ids = [int(snap.id)] + [int(e.id) for e in rest]
    assert ids == sorted(ids) and len(set(ids)) == 4, "ids are the event sequences, increasing"

    # Resuming after each event gives exactly the events after it.
    for n, after in enumerate(rest[:-1]):
        resumed, got = await read_all(http, path, **{"Last-Event-ID": after.id})
        assert resumed.status_code == 200
        assert [e.data["event_id"] for e in got] == [e.data["event_id"] for e in rest[n + 1 :]]
    _, from_snapshot = await read_all(http, f"{path}?from_sequence={snap.id}")
    assert [e.id for e in from_snapshot] == [e.id for e in rest]
    # After the last event there is nothing more: 204 stops an EventSource from reconnecting.
    over, _ = await read_all(http, path, **{"Last-Event-ID": rest[-1].id})
    assert over.status_code == 204
    # A fresh watch of a finished task: its snapshot, marked terminal, and the end.
    _, fresh = await read_all(http, path)
    assert [e.event for e in fresh] == ["snapshot"] and fresh[0].data["terminal"]


async def test_an_idle_stream_pings_with_the_sequence_to_resume_from(http: httpx.AsyncClient) -> None:
    task = (await http.post("/v1/tasks", json={"urls": urls(1)})).json()
    async with http.stream("GET", f"/v1/tasks/{task['id']}/events") as r:
        events = sse_events(r)
        snap = await anext(events)
        pings = [await asyncio.wait_for(anext(events), HEARTBEAT * 6) for _ in range(2)]
    assert [p.event for p in pings] == ["ping", "ping"]
    assert all(int(p.id) >= int(snap.id) for p in pings), "a ping's id resumes after what was seen"
    await http.post(f"/v1/tasks/{task['id']}:cancel")


async def test_errors_before_the_stream_are_plain_answers(web: HttpGateway, http: httpx.AsyncClient) -> None:
    task = (await http.post("/v1/tasks", json={"urls": urls(1)})).json()
    path = f"/v1/tasks/{task['id']}/events"
    async with web.client("wrong") as stranger:
        r, _ = await read_all(stranger, path)
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    _, other_key = await web.gw.tenant()
    async with web.client(other_key) as other:
        r, _ = await read_all(other, path)
    assert r.status_code == 404, "another tenant's task does not exist"
    r, _ = await read_all(http, path, **{"Last-Event-ID": "yesterday"})
    assert r.status_code == 400 and "Last-Event-ID" in r.json()["detail"]
    r, _ = await read_all(http, "/v1/tasks/nope/events")
    assert r.status_code == 400 and "task_id" in r.json()["detail"]
    await http.post(f"/v1/tasks/{task['id']}:cancel")


async def test_all_my_tasks_stream_with_a_label_filter(web: HttpGateway, http: httpx.AsyncClient) -> None:
    _, other_key = await web.gw.tenant()
    async with http.stream("GET", "/v1/events", params={"label": "list=reading"}) as r:
        assert r.status_code == 200
        events = sse_events(r)
        first = await asyncio.wait_for(anext(events), HEARTBEAT * 6)
        assert first.event == "ping", "nothing yet, but the stream is alive"
        async with web.client(other_key) as other:
            await other.post("/v1/tasks", json={"urls": urls(1), "labels": {"list": "reading"}})
        await http.post("/v1/tasks", json={"urls": urls(1), "labels": {"list": "other"}})
        mine = (await http.post("/v1/tasks", json={"urls": urls(1), "labels": {"list": "reading"}})).json()
        got: Event | None = None
        while got is None:
            ev = await asyncio.wait_for(anext(events), 10)
            if ev.event != "ping":
                got = ev
    assert got.event == "task" and got.data["task"]["id"] == mine["id"], "only my tasks with that label"
    assert got.data["task"]["status"] == "TASK_STATUS_QUEUED"


async def test_a_browser_that_goes_away_releases_its_watch(web: HttpGateway, http: httpx.AsyncClient) -> None:
    """The HTTP side on servicers of our own, to count the NATS subscriptions its watches hold."""
    gw = web.gw
    settings = GatewaySettings(nats_url=gw.settings.nats_url, database_url=gw.settings.database_url, watch_heartbeat=1)
    pipeline = PipelineServicer(settings, gw.engine, gw.js, gw.nc)
    closing = asyncio.Event()
    server = HttpServer(
        build_app(pipeline, NotificationsServicer(settings, gw.engine), closing), "127.0.0.1", 0, closing
    )
    await server.start()
    try:
        task = (await http.post("/v1/tasks", json={"urls": urls(1)})).json()
        await gw.js.stream_info(subjects.EVENTS_STREAM)  # opens the connection's reply inbox (a subscription)
        before = len(gw.nc._subs)

        async def released() -> bool:
            return len(gw.nc._subs) == before

        async def held() -> bool:
            return len(gw.nc._subs) == before + 1

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", headers=http.headers) as c:
            for settle in (True, False):  # gone while the watch runs, or while it subscribes
                async with c.stream("GET", f"/v1/tasks/{task['id']}/events") as r:
                    events = sse_events(r)  # (kept: dropping the reader closes the connection)
                    assert (await anext(events)).event == "snapshot"
                    if settle:
                        await wait_for(held, timeout=5, what="the watch to subscribe after its snapshot")
                        await asyncio.sleep(0.3)
                        assert await held(), "the watch goes on while the browser reads"
                # the response is closed here, as when a tab is closed
                await wait_for(released, timeout=5, what="the watch to unsubscribe")
            # A stream still open when the server stops ends at once.
            async with c.stream("GET", f"/v1/tasks/{task['id']}/events") as r:
                events = sse_events(r)
                await anext(events)  # the server stops while the watch subscribes
                stopping = asyncio.create_task(server.stop())
                rest = [e async for e in events]
                await asyncio.wait_for(stopping, 5)
        assert rest == [], "the stream ends without an event; the client resumes with Last-Event-ID"
        await wait_for(released, timeout=5, what="the watch to unsubscribe")
    finally:
        with contextlib.suppress(Exception):
            await server.stop()
        await http.post(f"/v1/tasks/{task['id']}:cancel")


async def test_without_vapid_keys_the_dashboard_is_told_which_settings_are_missing(http: httpx.AsyncClient) -> None:
    r = await http.get("/v1/vapidPublicKey")
    assert r.status_code == 400 and r.json()["code"] == "FAILED_PRECONDITION"
    assert "DISTILL_VAPID_PUBLIC_KEY" in r.json()["detail"]
