"""Where a client finds the gateway and its key: flags, environment, then what `distill up` recorded."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

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
