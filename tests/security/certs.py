"""scripts/dev_ca.py, loaded as a module, for the tests that need certificates."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "dev_ca.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev_ca", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


dev_ca = _load()


def make(folder: Path, clients: tuple[str, ...] = ("client",)) -> dict[str, Path]:
    """CA, server and client certificates in `folder` (paths by name, as dev_ca.make_all gives them)."""
    return dev_ca.make_all(folder, clients=list(clients))  # type: ignore[no-any-return]
