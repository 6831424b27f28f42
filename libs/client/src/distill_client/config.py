"""Where a client finds the gateway, its key and its TLS settings: flags, environment, then
what `distill up` recorded."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

DEFAULT_GATEWAY = "127.0.0.1:50051"


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "distill"


def last_up_file() -> Path:
    return state_dir() / "last_up.json"


def read_last_up() -> dict[str, Any]:
    try:
        return json.loads(last_up_file().read_text())
    except (OSError, ValueError):
        return {}


def write_last_up(info: dict[str, Any]) -> None:
    p = last_up_file()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=2))
    tmp.chmod(0o600)
    tmp.replace(p)


def resolve_gateway(explicit: str | None = None) -> str:
    return explicit or os.environ.get("DISTILL_GATEWAY") or read_last_up().get("gateway") or DEFAULT_GATEWAY


def resolve_api_key(explicit: str | None = None) -> str | None:
    return explicit or os.environ.get("DISTILL_API_KEY") or read_last_up().get("api_key")


# --- TLS -------------------------------------------------------------------------------

TLS_ENV = {
    "ca_file": "DISTILL_TLS_CA_FILE",
    "cert_file": "DISTILL_TLS_CLIENT_CERT_FILE",
    "key_file": "DISTILL_TLS_CLIENT_KEY_FILE",
    "server_name": "DISTILL_TLS_SERVER_NAME",
}


@dataclass(frozen=True)
class Tls:
    """How a client secures its channel: the CA it trusts (None: the system's roots), an
    optional client certificate and key (mTLS) and an optional name to check instead of
    the address's host."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    server_name: str | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("a TLS client certificate needs its key (and the other way round)")
        return grpc.ssl_channel_credentials(
            root_certificates=_read(self.ca_file, "CA bundle"),
            private_key=_read(self.key_file, "client key"),
            certificate_chain=_read(self.cert_file, "client certificate"),
        )

    def options(self) -> list[tuple[str, str]]:
        return [("grpc.ssl_target_name_override", self.server_name)] if self.server_name else []

    def as_dict(self) -> dict[str, str]:
        return {f"tls_{k}": str(v) for k, v in self.__dict__.items() if v}


def _read(path: str | None, what: str) -> bytes | None:
    if not path:
        return None
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as e:
        raise ValueError(f"cannot read the TLS {what} {path}: {e.strerror or e}") from None


def tls_from_env(env: Mapping[str, str] | None = None) -> Tls | None:
    """TLS from DISTILL_TLS_* variables: on when DISTILL_TLS is true or any file is given."""
    env = os.environ if env is None else env
    values = {k: env.get(v) or None for k, v in TLS_ENV.items()}
    wanted = env.get("DISTILL_TLS", "").strip().lower() in ("1", "true", "yes", "on")
    return Tls(**values) if wanted or values["ca_file"] or values["cert_file"] else None


def resolve_tls(explicit_gateway: str | None = None) -> Tls | None:
    """The environment's TLS settings; else, when the gateway itself comes from what the
    last `distill up` recorded, the TLS settings it recorded with it."""
    tls = tls_from_env()
    if tls is not None or explicit_gateway or os.environ.get("DISTILL_GATEWAY"):
        return tls
    saved = {k.removeprefix("tls_"): v for k, v in read_last_up().items() if k.startswith("tls_") and v}
    return Tls(**{k: v for k, v in saved.items() if k in TLS_ENV}) if saved else None
