"""Render the kustomize overlays offline (kubectl kustomize) and look things up in the result."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("dev", "prod")
COMPONENTS = ("tracing", "network-policies", "keda", "monitoring")
SERVICES = ("gateway", "parser", "ai", "notion", "notifier")
STAGE_OF = {"parser": "parse", "ai": "ai", "notion": "notion"}
K8S_VERSION = "1.32.0"


def load_module(name: str, path: Path) -> ModuleType:
    """Import a script that is not in a package (deploy/nats/render_accounts.py)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def kustomize_command() -> list[str]:
    """`kubectl kustomize` (kubectl >= 1.14 embeds kustomize), else a standalone `kustomize build`."""
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    raise RuntimeError("neither kubectl nor kustomize is installed: install kubectl (it renders offline)")


def render_dir(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run([*kustomize_command(), str(path)], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise AssertionError(f"kustomize failed on {path}:\n{out.stderr}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@cache
def _rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    return tuple(render_dir(KUSTOMIZE / "overlays" / overlay))


def render(overlay: str) -> list[dict[str, Any]]:
    """The overlay's resources (a fresh copy each call: tests may not change the cache)."""
    import copy

    return copy.deepcopy(list(_rendered(overlay)))


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d.get("kind") == kind]


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for d in of_kind(docs, kind):
        if d["metadata"]["name"] == name:
            return d
    raise AssertionError(f"no {kind} named {name} (have {[d['metadata']['name'] for d in of_kind(docs, kind)]})")


def component(doc: dict[str, Any]) -> str:
    return doc["metadata"].get("labels", {}).get("app.kubernetes.io/component", "")


def deployment(docs: list[dict[str, Any]], service: str) -> dict[str, Any]:
    return named(docs, "Deployment", f"distill-{service}")


def main_container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = workload["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "distill")


def env_of(docs: list[dict[str, Any]], workload: dict[str, Any]) -> dict[str, str]:
    """The container's plain environment: ConfigMaps from envFrom, then literal env values."""
    env: dict[str, str] = {}
    c = main_container(workload)
    for ref in c.get("envFrom", []):
        cm = named(docs, "ConfigMap", ref["configMapRef"]["name"])
        env.update(cm.get("data", {}))
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
    return env


def env_names(docs: list[dict[str, Any]], workload: dict[str, Any]) -> set[str]:
    """Every variable the container gets: ConfigMap keys, literals and Secret references."""
    c = main_container(workload)
    return set(env_of(docs, workload)) | {e["name"] for e in c.get("env", [])}
