"""What `distill up` does for the dashboard: the gateway's HTTP port, the line that opens
the dashboard signed in, and Web Push keys for a development stack."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from distill_cli.embedded import free_port

VAPID_FILE = "vapid.json"
VAPID_VARS = ("DISTILL_VAPID_PUBLIC_KEY", "DISTILL_VAPID_PRIVATE_KEY")


def http_port(host: str, environ: Mapping[str, str]) -> int:
    """DISTILL_HTTP_PORT when it names a port, else a free one: under `distill up` the HTTP side is always on."""
    raw = environ.get("DISTILL_HTTP_PORT", "").strip()
    if raw and raw != "0":
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise ValueError(f"DISTILL_HTTP_PORT must be a port number (1-65535), not {raw!r}")
        return int(raw)
    return free_port(host)


def dashboard_url(host: str, port: int, key: str, *, tls: bool = False) -> str:
    """The dashboard with the key in the fragment: browsers never send a fragment to a server,
    and the page moves the key to its storage and out of the address bar."""
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}/#key={quote(key, safe='')}"


def vapid_env(data_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """DISTILL_VAPID_* for the children. Nothing when the environment configures Web Push;
    else the data folder's own pair, made on first use and kept (browsers subscribe to
    one public key: a new pair would orphan every subscription)."""
    if any(environ.get(name, "").strip() for name in VAPID_VARS):
        return {}
    path = data_dir / VAPID_FILE
    if path.exists():
        keys = json.loads(path.read_text())
        if all(keys.get(name) for name in VAPID_VARS):
            return {name: keys[name] for name in VAPID_VARS}
    from distill_cli.vapid import generate

    keys = {name: value for name, value in generate().items() if name in VAPID_VARS}
    tmp = path.with_suffix(".tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(json.dumps(keys, indent=2) + "\n")
    tmp.replace(path)
    return keys
