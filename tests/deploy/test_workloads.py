"""What every Distill pod must have: gRPC probes on the port the service serves health on,
a locked-down security context, resources, a PodDisruptionBudget, and a termination grace
period that covers the stage runner's drain."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.manifests import (
    OVERLAYS,
    SERVICES,
    STAGE_OF,
    deployment,
    env_of,
    main_container,
    of_kind,
    render,
)

# The stage runner's stop sequence (libs/core/src/distill_core/runner/runner.py, stop()):
# running attempts get min(timeout, 25 s), cancelled ones 5 s more, the completer up to
# 15 s to record them, then the NATS drain up to 5 s.
RUNNER_DRAIN_CAP = 25.0
RUNNER_STOP_OVERHEAD = 5 + 15 + 5


def workloads(overlay: str) -> list[dict[str, Any]]:
    docs = render(overlay)
    return of_kind(docs, "Deployment") + of_kind(docs, "Job")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_grpc_probes_ask_the_port_the_service_serves_health_on(overlay: str) -> None:
    docs = render(overlay)
    for svc in SERVICES:
        dep = deployment(docs, svc)
        c = main_container(dep)
        env = env_of(docs, dep)
        port = int(env["DISTILL_GRPC_PORT"] if svc == "gateway" else env["DISTILL_HEALTH_PORT"])
        assert env["DISTILL_GRPC_HOST"] == "0.0.0.0", f"{svc} must listen on the pod's address for probes"
        assert port in {p["containerPort"] for p in c["ports"]}
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert probe in c, f"{svc} has no {probe}"
            assert c[probe]["grpc"]["port"] == port, f"{svc} {probe} asks port {c[probe]['grpc']['port']}"
        # Startup waits for PostgreSQL and NATS (each up to 60 s) before liveness starts.
        startup = c["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 120, svc


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_run_as_non_root_with_read_only_root_and_no_capabilities(overlay: str) -> None:
    for w in workloads(overlay):
        name = w["metadata"]["name"]
        pod = w["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        assert not pod.get("hostNetwork") and not pod.get("hostPID"), name
        for c in pod["containers"] + pod.get("initContainers", []):
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert not sc["capabilities"].get("add"), name
            assert not sc.get("privileged"), name
            # A read-only root needs a writable /tmp (temp files, caches).
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            volumes = {v["name"]: v for v in pod["volumes"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_requests_and_limits(overlay: str) -> None:
    for w in workloads(overlay):
        for c in w["spec"]["template"]["spec"]["containers"]:
            res = c["resources"]
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(res[kind]), f"{w['metadata']['name']}: {kind} {res.get(kind)}"
            assert _bytes(res["requests"]["memory"]) <= _bytes(res["limits"]["memory"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_has_a_disruption_budget(overlay: str) -> None:
    docs = render(overlay)
    pdbs = of_kind(docs, "PodDisruptionBudget")
    for dep in of_kind(docs, "Deployment"):
        labels = dep["spec"]["template"]["metadata"]["labels"]
        matching = [p for p in pdbs if p["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(matching) == 1, f"{dep['metadata']['name']}: {len(matching)} PDBs"
        # maxUnavailable 1: a node drain always makes progress, one pod at a time.
        assert matching[0]["spec"].get("maxUnavailable") == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_termination_grace_covers_the_stage_drain(overlay: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from distill_core.settings import Settings

    docs = render(overlay)
    for svc, stage in STAGE_OF.items():
        dep = deployment(docs, svc)
        for key, value in env_of(docs, dep).items():
            monkeypatch.setenv(key, value)
        timeout = Settings().stage(stage).timeout  # what the service will read
        grace = dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        needed = min(timeout, RUNNER_DRAIN_CAP) + RUNNER_STOP_OVERHEAD
        assert needed + 5 <= grace <= needed + 60, f"{svc}: grace {grace}s for a {timeout}s stage (needs {needed}s)"
        for key in list(env_of(docs, dep)):
            monkeypatch.delenv(key)
    defaults = {"parser": 60, "ai": 300, "notion": 120}
    for svc, seconds in defaults.items():
        assert float(env_of(docs, deployment(docs, svc))[f"DISTILL_{svc.upper()}_TIMEOUT"]) == seconds
    gateway = deployment(docs, "gateway")["spec"]["template"]["spec"]
    pre_stop = main_container(deployment(docs, "gateway"))["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert gateway["terminationGracePeriodSeconds"] >= pre_stop + 5 + 10  # + the gRPC stop grace + closing


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_referenced_never_inlined(overlay: str) -> None:
    docs = render(overlay)
    assert not of_kind(docs, "Secret"), "secrets are created by the operator (deploy/README.md), not shipped"
    secret_names = ("PASSWORD", "TOKEN", "API_KEY", "DATABASE_URL", "SECRET")
    for w in workloads(overlay):
        for e in main_container(w).get("env", []):
            if any(s in e["name"] for s in secret_names):
                assert "secretKeyRef" in e.get("valueFrom", {}), f"{w['metadata']['name']}: {e['name']} inline"
        for cm in of_kind(docs, "ConfigMap"):
            assert not any(s in k for k in cm.get("data", {}) for s in secret_names), cm["metadata"]["name"]


def test_each_service_uses_its_own_nats_user() -> None:
    import yaml

    from tests.deploy.manifests import ROOT

    accounts = yaml.safe_load((ROOT / "deploy/nats/accounts.yaml").read_text())
    users = {u["user"] for u in accounts["config"]["merge"]["accounts"]["DISTILL"]["users"]}
    for overlay in OVERLAYS:
        docs = render(overlay)
        for svc in SERVICES:
            dep = deployment(docs, svc)
            env = {e["name"]: e for e in main_container(dep)["env"]}
            user = env_of(docs, dep)["DISTILL_NATS_USER"]
            assert user == svc and user in users
            assert env["DISTILL_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
                "name": "distill-nats-auth",
                "key": user,
            }


def _bytes(q: str) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "K": 1e3, "M": 1e6, "G": 1e9}
    for u, m in units.items():
        if q.endswith(u):
            return float(q[: -len(u)]) * m
    return float(q)
