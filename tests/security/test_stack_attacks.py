"""A whole `distill up` as a careful deployment runs it (private networks NOT allowed, mTLS on,
Web Push and Notion configured, NATS users generated), attacked through its public API:

* the SSRF list (loopback in every spelling, link-local metadata, IPv6 and IPv4-mapped
  loopback, a name that resolves to loopback, a public site redirecting to loopback) as
  CreateTask URLs and as webhook and push endpoints: refused, or failed SSRF_BLOCKED, and a
  server listening on every local address counts no request at all;
* the embedded NATS: no anonymous connection, the parser's user cannot publish a notion job;
* mTLS: no client certificate, no connection;
* then a real run (pages, AI, Notion export, webhook and push deliveries, keys created and
  revoked, refused keys), after which every log line and every ErrorInfo is searched for
  every secret the deployment holds.

The "internet" is local: an HTTP proxy (HTTP_PROXY, which the parser's HTTP client honours)
plays a public site at [3fff::7]; everything on 127.0.0.1 bypasses it (NO_PROXY). 3fff::/20
is the IPv6 documentation prefix of RFC 9637 (2024): public to the guards, routed nowhere, so
a webhook or push delivery to it reaches no third party."""

from __future__ import annotations

import asyncio
import http.server
import ipaddress
import json
import os
import re
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import grpc
import nats
import pytest
from distill.v1 import task_pb2
from distill_cli.vapid import generate
from distill_client import AsyncClient, Tls, Unavailable
from distill_core import nats_auth
from distill_core.db.session import make_engine
from sqlalchemy import text

from tests.conftest import ROOT
from tests.e2e.conftest import Stack, start_stack, stop_stack
from tests.fakes.notion_server import FakeNotion
from tests.fakes.push_service import PushService
from tests.helpers import wait_for
from tests.security.attack import bearer, call, method
from tests.security.certs import make

pytestmark = pytest.mark.e2e

PUBLIC = "[3fff::7]"  # a public address routed nowhere; the proxy below answers for it
VAPID = generate("mailto:ops@example.com")
NOTION_TOKEN = f"secret_{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}"


class _DualStack(http.server.ThreadingHTTPServer):
    """Listens on every local address, IPv4 and IPv6 (:: with V6ONLY off)."""

    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def serve(server_cls: type[http.server.HTTPServer], address: tuple[str, int], on_get: Any) -> http.server.HTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, headers, body = on_get(self.path)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *a: object) -> None:
            pass

    srv = server_cls(address, Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@dataclass
class World:
    """The local "internet": a proxy serving the public site, and a trap on every local address."""

    trap_port: int = 0
    trap_hits: list[str] = field(default_factory=list)
    proxied: list[str] = field(default_factory=list)
    servers: list[http.server.HTTPServer] = field(default_factory=list)

    def start(self) -> World:
        trap = serve(_DualStack, ("::", 0), self._trap)
        self.trap_port = trap.server_address[1]
        proxy = serve(http.server.ThreadingHTTPServer, ("127.0.0.1", 0), self._site)
        self.proxy = f"http://127.0.0.1:{proxy.server_address[1]}"
        self.servers = [trap, proxy]
        return self

    def _trap(self, path: str) -> tuple[int, dict[str, str], bytes]:
        self.trap_hits.append(path)
        return 200, {"Content-Type": "text/plain"}, b"internal secrets"

    def _site(self, url: str) -> tuple[int, dict[str, str], bytes]:
        """A proxied request for http://[3fff::7]/<page>."""
        self.proxied.append(url)
        path = unquote(urlsplit(url).path)
        if path.startswith("/redirect/"):
            return 302, {"Location": path.removeprefix("/redirect/").replace("PORT", str(self.trap_port))}, b""
        page = ROOT / "samples" / "pages" / path.lstrip("/")
        if page.is_file():
            ctype = "text/html; charset=utf-8" if page.suffix == ".html" else "text/plain; charset=utf-8"
            return 200, {"Content-Type": ctype}, page.read_bytes()
        return 404, {}, b""

    def stop(self) -> None:
        for s in self.servers:
            s.shutdown()
            s.server_close()


@dataclass
class Deployment:
    stack: Stack
    world: World
    notion: FakeNotion
    notion_db: str
    tls: Tls
    secrets: dict[str, str]

    @property
    def data(self) -> Path:
        return self.stack.data_dir

    def client(self, key: str | None = None) -> AsyncClient:
        return AsyncClient(self.stack.gateway, key or self.stack.api_key, tls=self.tls)

    def channel(self) -> grpc.aio.Channel:
        return grpc.aio.secure_channel(self.stack.gateway, self.tls.credentials())

    def nats_url(self) -> str:
        m = re.search(r"embedded nats-server on (nats://\S+)", self.stack.log.read_text(errors="replace"))
        assert m, "no embedded nats-server line in the log"
        return m.group(1)

    def database_url(self) -> str:
        port = (self.data / "postgres" / "postmaster.pid").read_text().splitlines()[3]
        return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/distill"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("attacked")
    pki = make(root / "pki")
    world = World().start()
    notion = FakeNotion(token=NOTION_TOKEN, rate=50, burst=50).start()
    db, _ = notion.add_database()
    tls = Tls(ca_file=str(pki["ca"]), cert_file=str(pki["client"]), key_file=str(pki["client_key"]))
    env = {
        **VAPID,
        "DISTILL_TLS_CERT_FILE": str(pki["server"]),
        "DISTILL_TLS_KEY_FILE": str(pki["server_key"]),
        "DISTILL_TLS_CLIENT_CA_FILE": str(pki["ca"]),
        "DISTILL_TLS_CA_FILE": tls.ca_file or "",
        "DISTILL_TLS_CLIENT_CERT_FILE": tls.cert_file or "",
        "DISTILL_TLS_CLIENT_KEY_FILE": tls.key_file or "",
        "DISTILL_EXPORT_DESTINATION": "notion",
        "DISTILL_NOTION_TOKEN": NOTION_TOKEN,
        "DISTILL_NOTION_BASE_URL": notion.url,
        "DISTILL_NOTION_DATABASE_ID": db,
        "DISTILL_NOTIFIER_TIMEOUT": "3",
        "DISTILL_NOTIFIER_BACKOFF": "0.5,1,2",
        "DISTILL_PARSER_BACKOFF": "0.2,0.5,1",
        "DISTILL_LOG_LEVEL": "DEBUG",
        "HTTP_PROXY": world.proxy,
        "http_proxy": world.proxy,
        "NO_PROXY": "127.0.0.1,localhost,::1",
        "no_proxy": "127.0.0.1,localhost,::1",
        "XDG_STATE_HOME": str(root / "state"),  # not the shared ~/.local/state/distill/last_up.json
    }
    stack = start_stack(root / "data", extra_env=env, timeout=180, allow_private_networks=False)
    try:
        secrets = {
            "DISTILL_DEV_API_KEY": stack.api_key,
            "DISTILL_NOTION_TOKEN": NOTION_TOKEN,
            "DISTILL_VAPID_PRIVATE_KEY": VAPID["DISTILL_VAPID_PRIVATE_KEY"],
            **{
                f"NATS password of {u}": p
                for u, p in json.loads((stack.data_dir / nats_auth.PASSWORDS_FILE).read_text()).items()
            },
        }
        yield Deployment(stack, world, notion, db, tls, secrets)
    finally:
        stop_stack(stack.proc)
        notion.stop()
        world.stop()


@pytest.fixture
async def engine(deployment: Deployment) -> AsyncIterator[Any]:
    e = make_engine(deployment.database_url(), pool_size=1)
    yield e
    await e.dispose()


# --- transport and NATS ------------------------------------------------------------------


async def test_mtls_is_required(deployment: Deployment) -> None:
    async with deployment.client() as c:
        await c.list_tasks()
    no_cert = Tls(ca_file=deployment.tls.ca_file)
    for tls in (no_cert, None):
        async with AsyncClient(deployment.stack.gateway, deployment.stack.api_key, tls=tls, retries=0, timeout=5) as c:
            with pytest.raises(Unavailable):
                await c.list_tasks()


async def test_the_embedded_nats_has_no_anonymous_access_and_least_privilege_users(deployment: Deployment) -> None:
    url = deployment.nats_url()
    with pytest.raises(Exception, match=r"(?i)authorization"):
        await nats.connect(url, max_reconnect_attempts=0, allow_reconnect=False, connect_timeout=3)
    errors: list[str] = []

    async def on_error(e: Exception) -> None:
        errors.append(str(e).lower())

    password = deployment.secrets["NATS password of parser"]
    nc = await nats.connect(url, user="parser", password=password, error_cb=on_error, allow_reconnect=False)
    try:
        await nc.publish("distill.jobs.notion.normal", b"forged export job")
        await nc.subscribe("_INBOX.gateway.>")
        await nc.flush()
        await asyncio.sleep(0.3)
    finally:
        await nc.close()
    assert any("permissions violation for publish to" in e and "distill.jobs.notion.normal" in e for e in errors)
    assert any("permissions violation for subscription to" in e and "_inbox.gateway.>" in e for e in errors)
    assert oct((deployment.data / nats_auth.PASSWORDS_FILE).stat().st_mode & 0o777) == "0o600"


# --- SSRF through the public API -----------------------------------------------------------

LOOPBACK_SPELLINGS = [
    "http://127.0.0.1:PORT/",
    "http://127.0.0.2:PORT/",
    "http://[::1]:PORT/",
    "http://2130706433:PORT/",  # decimal
    "http://0x7f000001:PORT/",  # hex
    "http://0177.0.0.1:PORT/",  # octal
    "http://127.1:PORT/",  # short form
    "http://0.0.0.0:PORT/",
    "http://[::ffff:127.0.0.1]:PORT/",  # IPv4-mapped IPv6
    "http://localhost:PORT/",
    "http://LOCALHOST.:PORT/",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",  # cloud metadata
    "http://[fd00::1]:PORT/",  # unique-local IPv6
    "http://10.0.0.1:PORT/",
]


def ssrf_list(port: int) -> list[str]:
    return [u.replace("PORT", str(port)) for u in LOOPBACK_SPELLINGS]


def local_name() -> str:
    """A host name of this machine that resolves to a loopback or private address (no literal)."""
    name = socket.gethostname()
    try:
        addresses = {ipaddress.ip_address(i[4][0].split("%")[0]) for i in socket.getaddrinfo(name, 80)}
    except OSError:
        pytest.skip(f"this machine's name {name!r} does not resolve: no name-to-loopback case here")
    if any(a.is_global for a in addresses):
        pytest.skip(f"{name!r} resolves to a public address here: no name-to-loopback case")
    return name


async def test_ssrf_urls_in_create_task_are_refused_or_blocked_and_nothing_is_fetched(
    deployment: Deployment,
) -> None:
    port = deployment.world.trap_port
    urls = [
        *ssrf_list(port),
        f"http://{local_name()}:{port}/",
        f"http://{PUBLIC}/redirect/http://127.0.0.1:PORT/stolen",
        f"http://{PUBLIC}/redirect/http://169.254.169.254/latest/meta-data/",
        f"http://{PUBLIC}/redirect/http://[::1]:PORT/stolen",
    ]
    outcomes: dict[str, str] = {}
    async with deployment.client() as c:
        tasks = {}
        for u in urls:  # one task each: a URL refused outright does not hide the others
            try:
                tasks[u] = (await c.submit([u])).id
            except Exception as e:
                outcomes[u] = f"refused: {e}"
        for u, tid in tasks.items():
            done = await c.wait(tid, timeout=120)
            item = (await c.get_task(tid, include_items=True)).items[0]
            outcomes[u] = f"{task_pb2.TaskStatus.Name(done.status)} {item.error.code}"
    blocked = {u: o for u, o in outcomes.items() if o == "TASK_STATUS_FAILED SSRF_BLOCKED" or o.startswith("refused")}
    assert blocked == outcomes, f"not blocked: { {u: o for u, o in outcomes.items() if u not in blocked} }"
    assert len([o for o in outcomes.values() if "SSRF_BLOCKED" in o]) >= len(urls) - 2, outcomes
    await asyncio.sleep(1)
    assert deployment.world.trap_hits == [], f"fetched from a local address: {deployment.world.trap_hits}"
    redirects = [p for p in deployment.world.proxied if "/redirect/" in p]
    assert len(redirects) == 3, "the public site was never asked: the redirect cases prove nothing"


async def test_ssrf_endpoints_for_notifications_are_refused(deployment: Deployment, engine: Any) -> None:
    port = deployment.world.trap_port
    push = PushService(VAPID["DISTILL_VAPID_PUBLIC_KEY"])
    keys = push.subscribe()
    push.close()
    async with deployment.channel() as ch:
        md = bearer(deployment.stack.api_key)
        for u in ssrf_list(port):
            hook = await call(ch, method("distill.v1.Notifications.CreateWebhook"), {"url": u}, md)
            sub = await call(
                ch,
                method("distill.v1.Notifications.CreatePushSubscription"),
                {"endpoint": u, "p256dh": keys["p256dh"], "auth": keys["auth"]},
                md,
            )
            for out in (hook, sub):
                assert out.code == grpc.StatusCode.INVALID_ARGUMENT and "non-public address" in out.details, (u, out)
        # A name is looked up at each delivery: accepted now, blocked when the notifier resolves it.
        sneaky = await call(
            ch,
            method("distill.v1.Notifications.CreateWebhook"),
            {"url": f"http://{local_name()}:{port}/hook", "filter": "EVENT_FILTER_ALL"},
            md,
        )
        assert sneaky.code == grpc.StatusCode.OK, sneaky
    async with deployment.client() as c:
        await c.wait((await c.submit([f"http://{PUBLIC}/field-notes.txt"])).id, timeout=120)

    async def delivery_refused() -> bool:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text("SELECT status, last_error FROM deliveries WHERE destination_id = :d"),
                    {"d": uuid.UUID(sneaky.response.id)},
                )
            ).all()
        return any("non-public address" in (r.last_error or "") for r in rows)

    await wait_for(delivery_refused, 60, "the notifier to refuse the delivery to a name resolving to loopback")
    assert deployment.world.trap_hits == [], f"the notifier reached a local address: {deployment.world.trap_hits}"
    async with deployment.channel() as ch:
        await call(ch, method("distill.v1.Notifications.DeleteWebhook"), {"id": sneaky.response.id}, md)


# --- a real run, then no secret anywhere ------------------------------------------------------


def distill(*args: str) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).parent / "distill")
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, timeout=120, env=dict(os.environ, DISTILL_DATABASE_URL="")
    )


async def test_a_full_run_leaks_no_secret_into_logs_or_errors(deployment: Deployment, engine: Any) -> None:
    secrets = dict(deployment.secrets)
    push = PushService(VAPID["DISTILL_VAPID_PUBLIC_KEY"])
    keys = push.subscribe()
    push.close()
    async with deployment.channel() as ch:
        md = bearer(deployment.stack.api_key)
        hook = await call(
            ch,
            method("distill.v1.Notifications.CreateWebhook"),
            {"url": f"http://{PUBLIC}/hooks/in?token=user-secret-in-url-123456", "filter": "EVENT_FILTER_ALL"},
            md,
        )
        sub = await call(
            ch,
            method("distill.v1.Notifications.CreatePushSubscription"),
            {"endpoint": f"https://{PUBLIC}/push/abc", "p256dh": keys["p256dh"], "auth": keys["auth"]},
            md,
        )
        assert hook.code == sub.code == grpc.StatusCode.OK, (hook, sub)
        secrets["webhook secret"] = hook.response.secret
        secrets["token in a webhook URL"] = "user-secret-in-url-123456"
        secrets["push subscription auth secret"] = keys["auth"]

    # Keys made, used and revoked with the CLI against the running deployment's database.
    data_dir = ["--data-dir", str(deployment.data)]
    made = await asyncio.to_thread(distill, "keys", "create", "--tenant", "mallory", *data_dir)
    assert made.returncode == 0, made.stderr
    mallory = secrets["a tenant's key (revoked)"] = made.stdout.strip()
    async with deployment.client(mallory) as c:
        await c.list_tasks()
    revoked = await asyncio.to_thread(distill, "keys", "revoke", mallory, *data_dir)
    assert revoked.returncode == 0, revoked.stderr
    guessed = secrets["a guessed key"] = "dk_" + "A" * 9 + "_" + uuid.uuid4().hex
    for key in (mallory, guessed):
        async with deployment.client(key) as c:
            with pytest.raises(Exception, match="missing or invalid API key"):
                await c.submit(["https://example.com/"])

    # A user who pastes a URL carrying a key: the errors and logs must not repeat it (the item's
    # input, which the user gave and gets back in its own notifications, still has it).
    canary = f"canary-{uuid.uuid4().hex}"
    urls = [f"http://{PUBLIC}/article.html", f"http://{PUBLIC}/recipe.html", f"http://{PUBLIC}/gone?api_key={canary}"]
    async with deployment.client() as c:
        task = await c.submit(urls, labels={"run": "leak-check"})
        done = await c.wait(task.id, timeout=180)
        assert done.status == task_pb2.TASK_STATUS_PARTIALLY_FAILED, done
        assert done.counts.succeeded == 2
        everything = [await c.get_task(t.id, include_items=True) async for t in c.iter_tasks()]
        dead = [d async for d in c.iter_dead_letters()]
    assert len(deployment.notion.pages()) >= 2, "nothing reached Notion: the token was never used"

    async def delivered_or_tried() -> bool:
        async with engine.connect() as conn:
            n = (await conn.execute(text("SELECT count(*) FROM deliveries WHERE attempts > 0"))).scalar()
        return bool(n and n >= 2)

    await wait_for(delivered_or_tried, 60, "the notifier to try the webhook and the push subscription")
    async with engine.connect() as conn:
        bodies = [r[0] for r in await conn.execute(text("SELECT body FROM deliveries"))]
        errors = [r[0] for r in await conn.execute(text("SELECT last_error FROM deliveries"))]

    # Every ErrorInfo the API shows (items, phases, dead letters), every notification body, every log line.
    items = [i for t in everything for i in t.items]
    infos = [str(i.error) for i in items] + [str(ph.error) for i in items for ph in i.phases]
    infos += [str(d.error) for d in dead]
    assert any("HTTP_NOT_FOUND" in e for e in infos), "no ErrorInfo to check"
    assert any("api_key=[redacted]" in e for e in infos), "the canary's error does not show the redaction at work"
    stop_stack(deployment.stack.proc)  # shutdown logs count too
    logs = {
        "distill up (every service)": deployment.stack.log,
        "nats-server": deployment.data / "nats" / "nats.log",
        "postgres": deployment.data / "postgres.log",
    }
    texts = {name: p.read_text(errors="replace") for name, p in logs.items() if p.exists()}
    texts["distill up (every service)"] = "\n".join(
        line for line in texts["distill up (every service)"].splitlines() if not line.startswith("distill: dashboard ")
    )  # the one deliberate exception: the dashboard URL carries the development key (as Jupyter's does)
    assert len(texts["distill up (every service)"]) > 10_000, "too little was logged for this check to mean anything"
    texts["ErrorInfo"] = "\n".join(infos)
    texts["notification bodies and delivery errors"] = "\n".join(str(x) for x in bodies + errors)
    leaks = [(what, where) for what, value in secrets.items() for where, body in texts.items() if value in body]
    leaks += [("the key in a URL", w) for w in ("distill up (every service)", "ErrorInfo") if canary in texts[w]]
    assert not leaks, f"secrets found: {leaks}"
