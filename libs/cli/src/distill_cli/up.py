"""`distill up`: the whole stack in the foreground, supervised like Kubernetes would.

Starts embedded NATS and PostgreSQL (unless DISTILL_NATS_URL / DISTILL_DATABASE_URL
are set), migrates, ensures the development tenant and key, starts the five services
as child processes with prefixed logs, prints `distill: ready gateway=HOST:PORT` once
each reports SERVING over gRPC health, restarts a child that dies (with back-off) and
stops everything on SIGINT/SIGTERM.

Least privilege (docs/security.md): the embedded nats-server gets one user per service
with the permissions of distill_core.nats_auth and random passwords kept in
DIR/nats-auth.json; each child connects as its own user. TLS / mTLS for the gateway
come from the DISTILL_TLS_* variables, which the children inherit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from distill_client.config import Tls, tls_from_env, write_last_up
from distill_core import nats_auth
from distill_core.logging import redact_text, register_secrets, register_secrets_from_env
from grpc_health.v1 import health_pb2, health_pb2_grpc

from distill_cli import dashboard
from distill_cli.embedded import NatsServer, PostgresServer, free_port

SERVICES = ("gateway", "parser", "ai", "notion", "notifier")
COLORS = {"gateway": "36", "parser": "32", "ai": "35", "notion": "33", "notifier": "34", "nats": "90", "postgres": "90"}
STOP_ORDER = ("gateway", "parser", "ai", "notion", "notifier")


def say(line: str) -> None:
    """Status lines for people and scripts (stdout, flushed)."""
    print(line, flush=True)


@dataclass
class Child:
    name: str
    port: int  # gRPC port (health; the API too for the gateway)
    metrics_port: int
    env: dict[str, str]
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started: float = 0.0
    pumps: list[asyncio.Task[None]] = field(default_factory=list)


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "distill"


class Stack:
    def __init__(self, data_dir: Path, grpc_port: int, allow_private: bool, host: str = "127.0.0.1") -> None:
        self.data_dir = data_dir.resolve()
        self.grpc_port = grpc_port
        self.allow_private = allow_private
        self.host = host
        self.nats: NatsServer | None = None
        self.pg: PostgresServer | None = None
        self.children: dict[str, Child] = {}
        self.nats_passwords: dict[str, str] = {}
        self.tls = gateway_tls()
        self.stopping = asyncio.Event()
        self.color = sys.stderr.isatty()

    # --- infrastructure ------------------------------------------------------------------

    def start_infra(self) -> tuple[str, str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        nats_url = os.environ.get("DISTILL_NATS_URL")
        db_url = os.environ.get("DISTILL_DATABASE_URL")
        if not nats_url:
            sync = os.environ.get("DISTILL_JOBS_SYNC_ALWAYS", "").lower() in ("1", "true", "yes")
            self.nats_passwords = nats_auth.local_passwords(self.data_dir)
            register_secrets(self.nats_passwords.values())
            auth = nats_auth.server_config(self.nats_passwords)
            self.nats = NatsServer(self.data_dir / "nats", sync_always=sync, extra_config=auth).start()
            nats_url = self.nats.url
            self.log(
                "nats",
                f"embedded nats-server on {nats_url} (data in {self.data_dir / 'nats'}; one user per service, "
                f"passwords in {self.data_dir / nats_auth.PASSWORDS_FILE})",
            )
        if not db_url:
            self.pg = PostgresServer(self.data_dir / "postgres").start()
            db_url = self.pg.url
            self.log("postgres", f"embedded PostgreSQL on {self.pg.host}:{self.pg.port} (data in {self.pg.data_dir})")
        return nats_url, db_url

    def stop_infra(self) -> None:
        if self.nats:
            self.nats.stop()
        if self.pg:
            self.pg.stop()

    async def prepare_database(self, db_url: str) -> str:
        """Migrate and make sure the development tenant has its key; returns the key."""
        from distill_core import apikeys
        from distill_core.db.migrate import upgrade_async
        from distill_core.db.session import make_engine, wait_for_database

        engine = make_engine(db_url, pool_size=1)
        try:
            await wait_for_database(engine)
            await upgrade_async(db_url)
            key = os.environ.get("DISTILL_DEV_API_KEY") or self._saved_dev_key()
            async with engine.begin() as conn:
                key, _ = await apikeys.create_key(conn, "dev", key=key, name="development key", admin=True)
            self._save_dev_key(key)
            return key
        finally:
            await engine.dispose()

    def _saved_dev_key(self) -> str | None:
        p = self.data_dir / "dev-api-key"
        return p.read_text().strip() if p.exists() else None

    def _save_dev_key(self, key: str) -> None:
        p = self.data_dir / "dev-api-key"
        if not p.exists() or p.read_text().strip() != key:
            p.write_text(key + "\n")
            p.chmod(0o600)

    # --- children ------------------------------------------------------------------------

    def plan(self, nats_url: str, db_url: str) -> None:
        base = {
            **os.environ,
            "DISTILL_NATS_URL": nats_url,
            "DISTILL_DATABASE_URL": db_url,
            "DISTILL_DATA_DIR": str(self.data_dir),
            "DISTILL_EXPORT_DIR": os.environ.get("DISTILL_EXPORT_DIR", str(self.data_dir / "exports")),
            "DISTILL_LOG_FORMAT": os.environ.get("DISTILL_LOG_FORMAT", "console"),
            "DISTILL_GRPC_HOST": self.host,
            "PYTHONUNBUFFERED": "1",
        }
        if self.allow_private:
            base["DISTILL_PARSER_ALLOW_PRIVATE_NETWORKS"] = "true"
        vapid = dashboard.vapid_env(self.data_dir, os.environ)  # Web Push works out of the box
        register_secrets([vapid.get("DISTILL_VAPID_PRIVATE_KEY", "")])
        base.update(vapid)
        for name in SERVICES:
            port = (self.grpc_port or free_port(self.host)) if name == "gateway" else free_port(self.host)
            metrics = free_port(self.host)
            env = dict(base, DISTILL_METRICS_PORT=str(metrics))
            if self.nats_passwords:  # the embedded server: this service's own NATS user
                env.pop("DISTILL_NATS_CREDS", None)
                env.update(DISTILL_NATS_USER=name, DISTILL_NATS_PASSWORD=self.nats_passwords[name])
            if name == "gateway":
                env["DISTILL_GRPC_PORT"] = str(port)
                env["DISTILL_HTTP_PORT"] = str(dashboard.http_port(self.host, os.environ))
            else:
                env["DISTILL_HEALTH_PORT"] = str(port)
            self.children[name] = Child(name, port, metrics, env)

    async def spawn(self, c: Child) -> None:
        module = f"distill_{c.name}"
        c.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            env=c.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=_child_preexec,
        )
        c.started = time.monotonic()
        c.pumps = [asyncio.create_task(self._pump(c.name, s)) for s in (c.proc.stdout, c.proc.stderr) if s]

    async def _pump(self, name: str, stream: asyncio.StreamReader) -> None:
        while True:
            line = await stream.readline()
            if not line:
                return
            # The services redact their own logs; this also covers what is not a log line (a crash).
            self.log(name, redact_text(line.decode(errors="replace").rstrip()))

    def log(self, name: str, text: str) -> None:
        tag = f"{name:>8} |"
        if self.color:
            tag = f"\x1b[{COLORS.get(name, '0')}m{tag}\x1b[0m"
        sys.stderr.write(f"{tag} {text}\n")
        sys.stderr.flush()

    async def supervise(self, c: Child) -> None:
        """Restart a child that exits while we are not stopping (1 s, 2 s, 4 s ... 30 s)."""
        while not self.stopping.is_set():
            assert c.proc is not None
            code = await c.proc.wait()
            await asyncio.gather(*c.pumps, return_exceptions=True)
            if self.stopping.is_set():
                return
            if time.monotonic() - c.started > 60:
                c.restarts = 0
            delay = min(float(os.environ.get("DISTILL_RESTART_BACKOFF_MAX", "30")), 2.0**c.restarts)
            c.restarts += 1
            self.log(c.name, f"exited with code {code}; restarting in {delay:.0f} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=delay)
            if self.stopping.is_set():
                return
            await self.spawn(c)

    async def wait_serving(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.children)
        while pending:
            for name in list(pending):
                tls = self.tls if name == "gateway" else None
                if await _serving(self.host, self.children[name].port, tls):
                    pending.discard(name)
            if not pending:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"services not SERVING after {timeout:.0f} s: {', '.join(sorted(pending))}")
            if self.stopping.is_set():
                raise asyncio.CancelledError
            await asyncio.sleep(0.2)

    async def stop_children(self, grace: float = 30.0) -> None:
        for name in STOP_ORDER:
            c = self.children.get(name)
            if c and c.proc and c.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    c.proc.send_signal(signal.SIGTERM)
        procs = [c.proc for c in self.children.values() if c.proc and c.proc.returncode is None]
        if procs:
            await asyncio.wait([asyncio.create_task(p.wait()) for p in procs], timeout=grace)
            for c in self.children.values():
                if c.proc and c.proc.returncode is None:
                    self.log(c.name, f"did not stop within {grace:.0f} s; killing it")
                    with contextlib.suppress(ProcessLookupError):
                        c.proc.kill()
                    await c.proc.wait()
        for c in self.children.values():
            await asyncio.gather(*c.pumps, return_exceptions=True)

    # --- the whole run -------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        register_secrets_from_env()
        try:
            # In this thread: the servers die with the thread that started them (PDEATHSIG).
            nats_url, db_url = self.start_infra()
            key = await self.prepare_database(db_url)
            self.plan(nats_url, db_url)
            for c in self.children.values():
                await self.spawn(c)
            supervisors = [asyncio.create_task(self.supervise(c)) for c in self.children.values()]
            try:
                await self.wait_serving()
            except asyncio.CancelledError:
                return 0
            gateway = f"{self.host}:{self.children['gateway'].port}"
            write_last_up(
                {
                    "gateway": gateway,
                    "api_key": key,
                    "data_dir": str(self.data_dir),
                    "pid": os.getpid(),
                    **(self.tls.as_dict() if self.tls else {}),
                }
            )
            for name in SERVICES:
                say(f"distill: metrics {name}=http://{self.host}:{self.children[name].metrics_port}/metrics")
            if not os.environ.get("DISTILL_DEV_API_KEY"):
                say(f"distill: development API key {key} (export DISTILL_API_KEY={key})")
            say(f"distill: exports in {self.children['notion'].env['DISTILL_EXPORT_DIR']}")
            http_port = int(self.children["gateway"].env["DISTILL_HTTP_PORT"])
            say(f"distill: dashboard {dashboard.dashboard_url(self.host, http_port, key, tls=self.tls is not None)}")
            say(f"distill: ready gateway={gateway}")
            await self.stopping.wait()
            say("distill: stopping")
            await self.stop_children()
            for s in supervisors:
                s.cancel()
            return 0
        finally:
            self.stopping.set()
            await self.stop_children(grace=10)
            self.stop_infra()


def gateway_tls() -> Tls | None:
    """How `distill up` itself talks to a gateway with TLS on (DISTILL_TLS_CERT_FILE): the
    client-side DISTILL_TLS_* variables, which the CLI reads too; refused early when mTLS is
    on and no client certificate is given (every health check would fail)."""
    if not os.environ.get("DISTILL_TLS_CERT_FILE"):
        return None
    tls = tls_from_env() or Tls()
    if os.environ.get("DISTILL_TLS_CLIENT_CA_FILE") and not tls.cert_file:
        raise ValueError(
            "mTLS is on (DISTILL_TLS_CLIENT_CA_FILE) but no client certificate is given: set "
            "DISTILL_TLS_CLIENT_CERT_FILE and DISTILL_TLS_CLIENT_KEY_FILE (scripts/dev_ca.py makes them)"
        )
    tls.credentials()  # unreadable files: said now, not as a gateway that never becomes ready
    return tls


def _channel(target: str, tls: Tls | None) -> grpc.aio.Channel:
    if tls is None:
        return grpc.aio.insecure_channel(target)
    return grpc.aio.secure_channel(target, tls.credentials(), options=tls.options())


async def _serving(host: str, port: int, tls: Tls | None = None) -> bool:
    try:
        async with _channel(f"{host}:{port}", tls) as ch:
            resp = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
            return resp.status == health_pb2.HealthCheckResponse.SERVING
    except Exception:
        return False


def _child_preexec() -> None:
    from distill_cli.embedded import _die_with_parent

    _die_with_parent()


def run_up(data_dir: Path | None, grpc_port: int, allow_private: bool) -> int:
    os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/distill-runtime-{os.getuid()}")
    try:
        stack = Stack(data_dir or default_data_dir(), grpc_port, allow_private)
    except ValueError as e:
        print(f"distill: {e}", file=sys.stderr, flush=True)
        return 2
    return asyncio.run(stack.run())
