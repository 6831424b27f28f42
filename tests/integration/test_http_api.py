"""The gateway's HTTP side (in-process `serve()`, real NATS and PostgreSQL, no workers): the JSON
API mirrors the Pipeline RPCs with the same keys, checks and errors (as RFC 9457 problem
details), and the dashboard's files are served with their security headers."""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import ssl
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from distill_cli.embedded import free_port
from distill_cli.vapid import generate
from distill_core import subjects
from distill_core.settings import GatewaySettings
from distill_gateway.notifications import NotificationsServicer
from distill_gateway.pipeline import PipelineServicer
from distill_gateway.web.server import start_http

from tests.fakes.push_service import PushService
from tests.integration.gateway_fixture import fail_item, urls
from tests.integration.http_fixture import HttpGateway, http_fixture, running_http_gateway  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration

VAPID = generate("mailto:ops@example.com")


@pytest.fixture(scope="module")
async def web(nats_url: str, database_url: str) -> AsyncIterator[HttpGateway]:
    with pytest.MonkeyPatch.context() as mp:  # what NotificationsServicer reads when the gateway starts
        mp.setenv("DISTILL_VAPID_PUBLIC_KEY", VAPID["DISTILL_VAPID_PUBLIC_KEY"])
        mp.setenv("DISTILL_NOTIFIER_ALLOW_PRIVATE_NETWORKS", "true")
        async with running_http_gateway(nats_url, database_url) as g:
            await g.gw.js.purge_stream(subjects.JOBS_STREAM)
            yield g


def problem(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    doc = r.json()
    assert doc["status"] == status and doc["code"] == code and doc["type"] == "about:blank"
    assert doc["title"] and doc["detail"]
    return doc


# --- the dashboard's files ------------------------------------------------------------------


async def test_dashboard_files_are_served_with_their_headers(web: HttpGateway) -> None:
    async with web.client(None) as c:
        page = await c.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-cache"
        assert "<script>" not in page.text and " style=" not in page.text, "the CSP allows no inline code"
        assets = re.findall(r'(?:src|href)="(/[^"]*)"', page.text)
        manifest = await c.get("/manifest.webmanifest")
        assert manifest.headers["content-type"].startswith("application/manifest+json")
        doc = manifest.json()
        assert doc["start_url"] == "/" and doc["display"] == "standalone" and doc["name"] == "Distill"
        sizes = {i["sizes"] for i in doc["icons"] if i["type"] == "image/png"}
        assert {"192x192", "512x512"} <= sizes, "Chromium's install criteria"
        for path in {*assets, *(i["src"] for i in doc["icons"]), "/sw.js"}:
            r = await c.get(path)
            assert r.status_code == 200, path
            assert r.content, path
        sw = await c.get("/sw.js")
        assert "javascript" in sw.headers["content-type"] and 'addEventListener("push"' in sw.text
        png = await c.get("/static/icon-512.png")
        assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
        etag = (await c.get("/static/app.js")).headers["etag"]
        again = await c.get("/static/app.js", headers={"If-None-Match": etag})
        assert again.status_code == 304, "static files revalidate cheaply"
        assert (await c.get("/static/nope.js")).status_code == 404
        assert (await c.get("/healthz")).text == "ok"


# --- keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/v1/tasks"),
        ("POST", "/v1/tasks"),
        ("GET", f"/v1/tasks/{uuid.uuid4()}"),
        ("POST", f"/v1/tasks/{uuid.uuid4()}:cancel"),
        ("GET", f"/v1/items/{uuid.uuid4()}"),
        ("GET", f"/v1/tasks/{uuid.uuid4()}/events"),
        ("GET", "/v1/events"),
        ("GET", "/v1/vapidPublicKey"),
        ("POST", "/v1/pushSubscriptions"),
        ("POST", "/v1/uploads"),
        ("POST", f"/v1/tasks/{uuid.uuid4()}/reports"),
        ("GET", f"/v1/reports/{uuid.uuid4()}"),
        ("GET", f"/v1/reports/{uuid.uuid4()}/content"),
    ],
)
async def test_every_call_needs_a_valid_key(web: HttpGateway, method: str, path: str) -> None:
    for key in (None, "not-a-key", "dk_" + "0" * 40):
        async with web.client(key) as c:
            r = await c.request(method, path, json={"urls": ["https://example.com/"]} if method == "POST" else None)
        doc = problem(r, 401, "UNAUTHENTICATED")
        assert "API key" in doc["detail"]
        assert r.headers["www-authenticate"].startswith("Bearer")
    async with web.client(None) as c:
        r = await c.get("/v1/tasks", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    problem(r, 401, "UNAUTHENTICATED")


# --- the Pipeline RPCs ----------------------------------------------------------------------


async def test_create_get_list_and_page_like_the_grpc_api(http: httpx.AsyncClient) -> None:
    made = []
    for n in range(5):
        r = await http.post("/v1/tasks", json={"urls": urls(2), "labels": {"batch": "b1" if n % 2 else "b0"}})
        assert r.status_code == 200, r.text
        made.append(r.json())
    first = made[0]
    assert first["status"] == "TASK_STATUS_QUEUED" and first["counts"]["total"] == 2
    assert first["progress"] == 0, "defaults are present, not omitted"

    got = (await http.get(f"/v1/tasks/{first['id']}", params={"include_items": "true"})).json()
    assert [i["status"] for i in got["items"]] == ["ITEM_STATUS_PENDING"] * 2
    assert (await http.get(f"/v1/tasks/{first['id']}")).json()["items"] == []

    seen, token = [], ""
    while True:
        page = (await http.get("/v1/tasks", params={"page_size": 2, "page_token": token})).json()
        assert page["total_size"] == 5 and len(page["tasks"]) <= 2
        seen += [t["id"] for t in page["tasks"]]
        token = page["next_page_token"]
        if not token:
            break
    assert seen == [t["id"] for t in reversed(made)], "every task once, newest first"

    b1 = (await http.get("/v1/tasks", params={"label": "batch=b1"})).json()
    assert {t["id"] for t in b1["tasks"]} == {made[1]["id"], made[3]["id"]}
    for status in ("queued", "TASK_STATUS_QUEUED", "queued,running"):
        assert (await http.get("/v1/tasks", params={"status": status})).json()["total_size"] == 5
    assert (await http.get("/v1/tasks", params=[("status", "failed"), ("status", "succeeded")])).json()[
        "total_size"
    ] == 0

    items = (await http.get(f"/v1/tasks/{first['id']}/items", params={"page_size": 1})).json()
    assert items["total_size"] == 2 and len(items["items"]) == 1 and items["next_page_token"]
    item_id = items["items"][0]["id"]
    item = (await http.get(f"/v1/items/{item_id}", params={"view": "full"})).json()
    assert item["id"] == item_id and item["task_id"] == first["id"] and item["input"].startswith("https://")

    again = await http.post("/v1/tasks", json={"urls": urls(1), "idempotencyKey": "k-1"})
    same = await http.post("/v1/tasks", json={"urls": urls(1), "idempotency_key": "k-1"})
    assert again.json()["id"] == same.json()["id"], "camelCase and proto names both accepted"


async def test_errors_are_problem_details_that_say_what_is_wrong(web: HttpGateway, http: httpx.AsyncClient) -> None:
    bad_url = problem(await http.post("/v1/tasks", json={"urls": ["file:///etc/passwd"]}), 400, "INVALID_ARGUMENT")
    assert "scheme" in bad_url["detail"] and bad_url["instance"] == "/v1/tasks"
    not_json = problem(await http.post("/v1/tasks", content=b"{nope"), 400, "INVALID_ARGUMENT")
    assert "not valid JSON" in not_json["detail"]
    assert "JSON object" in problem(await http.post("/v1/tasks", json=["x"]), 400, "INVALID_ARGUMENT")["detail"]
    unknown = problem(await http.post("/v1/tasks", json={"urlz": ["https://a.example/"]}), 400, "INVALID_ARGUMENT")
    assert "urlz" in unknown["detail"]
    assert "urls" in problem(await http.post("/v1/tasks", json={}), 400, "INVALID_ARGUMENT")["detail"]
    status = problem(await http.get("/v1/tasks", params={"status": "nope"}), 400, "INVALID_ARGUMENT")
    assert "partially_failed" in status["detail"], "the message lists what is allowed"
    typo = problem(await http.get("/v1/tasks", params={"stauts": "failed"}), 400, "INVALID_ARGUMENT")
    assert "stauts" in typo["detail"]
    assert (
        "page_size"
        in problem(await http.get("/v1/tasks", params={"page_size": "x"}), 400, "INVALID_ARGUMENT")["detail"]
    )
    problem(await http.get("/v1/tasks/not-a-uuid"), 400, "INVALID_ARGUMENT")
    problem(await http.get(f"/v1/tasks/{uuid.uuid4()}"), 404, "NOT_FOUND")

    # Another tenant's task is NOT_FOUND, on every route.
    _, other_key = await web.gw.tenant()
    async with web.client(other_key) as other:
        theirs = (await other.post("/v1/tasks", json={"urls": urls(1)})).json()
        their_item = (await other.get(f"/v1/tasks/{theirs['id']}/items")).json()["items"][0]["id"]
    for method, path in [
        ("GET", f"/v1/tasks/{theirs['id']}"),
        ("GET", f"/v1/tasks/{theirs['id']}/items"),
        ("GET", f"/v1/items/{their_item}"),
        ("POST", f"/v1/tasks/{theirs['id']}:cancel"),
        ("POST", f"/v1/tasks/{theirs['id']}:retry"),
        ("GET", f"/v1/tasks/{theirs['id']}/events"),
    ]:
        problem(await http.request(method, path), 404, "NOT_FOUND")

    mine = (await http.post("/v1/tasks", json={"urls": urls(1)})).json()
    assert (await http.post(f"/v1/tasks/{mine['id']}:cancel")).json()["status"] == "TASK_STATUS_CANCELLED"
    done = problem(await http.post(f"/v1/tasks/{mine['id']}:cancel"), 400, "FAILED_PRECONDITION")
    assert "already finished" in done["detail"]
    problem(await http.get(f"/v1/tasks/{mine['id']}:cancel"), 405, "UNIMPLEMENTED")
    problem(await http.post(f"/v1/tasks/{mine['id']}:explode"), 404, "NOT_FOUND")
    problem(await http.get("/v1/nothing-here"), 404, "NOT_FOUND")
    problem(await http.delete("/v1/tasks"), 405, "UNIMPLEMENTED")
    big = json.dumps({"urls": ["https://example.com/" + "a" * 1000] * 17_000}).encode()
    assert "limit" in problem(await http.post("/v1/tasks", content=big), 413, "RESOURCE_EXHAUSTED")["detail"]


async def test_retry_and_cancel(web: HttpGateway, http: httpx.AsyncClient) -> None:
    task = (await http.post("/v1/tasks", json={"urls": urls(3)})).json()
    items = (await http.get(f"/v1/tasks/{task['id']}/items")).json()["items"]
    await fail_item(web.gw, items[0]["id"], "parse", "UPSTREAM_ERROR")
    await fail_item(web.gw, items[1]["id"], "ai", "TIMEOUT")
    failed = (await http.get(f"/v1/items/{items[0]['id']}")).json()
    assert failed["status"] == "ITEM_STATUS_FAILED" and failed["error"]["code"] == "UPSTREAM_ERROR"

    one = (await http.post(f"/v1/tasks/{task['id']}:retry", json={"item_ids": [items[0]["id"]]})).json()
    assert one["retried_count"] == 1
    again = (await http.get(f"/v1/items/{items[0]['id']}")).json()
    assert again["status"] == "ITEM_STATUS_PENDING" and again["current_stage"] == "STAGE_PARSE"
    by_stage = (await http.post(f"/v1/tasks/{task['id']}:retry", json={"stage": "STAGE_PARSE"})).json()
    assert by_stage["retried_count"] == 0, "only the item that failed at ai is left, and not at parse"
    rest = (await http.post(f"/v1/tasks/{task['id']}:retry")).json()
    assert rest["retried_count"] == 1 and rest["task"]["id"] == task["id"]
    stranger = await http.post(f"/v1/tasks/{task['id']}:retry", json={"item_ids": [str(uuid.uuid4())]})
    assert "not items of task" in problem(stranger, 400, "INVALID_ARGUMENT")["detail"]

    cancelled = (await http.post(f"/v1/tasks/{task['id']}:cancel", json={})).json()
    assert cancelled["status"] == "TASK_STATUS_CANCELLED" and cancelled["counts"]["cancelled"] == 3


# --- Web Push subscriptions ---------------------------------------------------------------


async def test_a_browser_registers_its_push_subscription(web: HttpGateway, http: httpx.AsyncClient) -> None:
    key = (await http.get("/v1/vapidPublicKey")).json()
    assert key == {"public_key": VAPID["DISTILL_VAPID_PUBLIC_KEY"]}
    push = PushService(key["public_key"])
    try:
        sub = push.subscribe()
        made = await http.post("/v1/pushSubscriptions", json={**sub, "filter": "EVENT_FILTER_DEFAULT"})
        assert made.status_code == 200, made.text
        saved = made.json()
        assert saved["endpoint"] == sub["endpoint"] and saved["filter"] == "EVENT_FILTER_DEFAULT"
        rows = await web.gw.sql(
            "SELECT endpoint, p256dh, auth FROM push_subscriptions WHERE id = :i", i=uuid.UUID(saved["id"])
        )
        assert rows == [{"endpoint": sub["endpoint"], "p256dh": sub["p256dh"], "auth": sub["auth"]}]
        bad = await http.post("/v1/pushSubscriptions", json={**sub, "p256dh": "short"})
        assert "p256dh" in problem(bad, 400, "INVALID_ARGUMENT")["detail"]
        assert (await http.delete(f"/v1/pushSubscriptions/{saved['id']}")).status_code == 200
        problem(await http.delete(f"/v1/pushSubscriptions/{saved['id']}"), 404, "NOT_FOUND")
    finally:
        push.close()


# --- transport security -------------------------------------------------------------------


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "distill test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


async def test_with_a_certificate_the_http_side_is_https(web: HttpGateway, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    _, api_key = await web.gw.tenant()
    settings = GatewaySettings(
        nats_url=web.gw.settings.nats_url,
        database_url=web.gw.settings.database_url,
        http_port=free_port(),
        tls_cert_file=cert,
        tls_key_file=key,
    )
    pipeline = PipelineServicer(settings, web.gw.engine, web.gw.js, web.gw.nc)
    server = await start_http(settings, pipeline, NotificationsServicer(settings, web.gw.engine))
    assert server is not None and server.tls
    try:
        headers = {"Authorization": f"Bearer {api_key}"}
        async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(cert)), headers=headers) as c:
            r = await c.get(f"https://127.0.0.1:{server.port}/v1/tasks")
            assert r.status_code == 200 and r.json()["total_size"] == 0
        async with httpx.AsyncClient() as plain:
            with pytest.raises(httpx.HTTPError):
                await plain.get(f"http://127.0.0.1:{server.port}/v1/tasks", headers=headers)
    finally:
        await server.stop()
