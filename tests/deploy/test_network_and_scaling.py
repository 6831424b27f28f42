"""NetworkPolicies (only the gateway is reachable from outside) and scaling (KEDA on each
stage's JetStream durables, HPA on CPU for the gateway)."""

from __future__ import annotations

import ipaddress
from typing import Any

import yaml
from distill_core import subjects

from tests.deploy.manifests import ROOT, SERVICES, STAGE_OF, deployment, named, of_kind, render

METRICS_PORT = 9090


def selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    sel = policy["spec"]["podSelector"]
    if not sel.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in sel.get("matchExpressions", []):
        value = labels.get(expr["key"])
        if expr["operator"] == "In" and value not in expr["values"]:
            return False
        if expr["operator"] == "NotIn" and value in expr["values"]:
            return False
    return True


def policies_for(docs: list[dict[str, Any]], labels: dict[str, str], direction: str) -> list[dict[str, Any]]:
    return [p for p in of_kind(docs, "NetworkPolicy") if direction in p["spec"]["policyTypes"] and selects(p, labels)]


def pod_labels(docs: list[dict[str, Any]], service: str) -> dict[str, str]:
    return deployment(docs, service)["spec"]["template"]["metadata"]["labels"]


def is_open_to_outside(rule: dict[str, Any]) -> bool:
    """A rule with no `from`, or an ipBlock, admits traffic from outside the cluster."""
    peers = rule.get("from")
    return not peers or any("ipBlock" in p for p in peers)


def test_only_the_gateway_is_reachable_from_outside() -> None:
    docs = render("prod")
    for svc in SERVICES:
        rules = [r for p in policies_for(docs, pod_labels(docs, svc), "Ingress") for r in p["spec"].get("ingress", [])]
        assert policies_for(docs, pod_labels(docs, svc), "Ingress"), f"{svc} is not isolated for ingress"
        open_rules = [r for r in rules if is_open_to_outside(r)]
        if svc == "gateway":
            assert [[p["port"] for p in r["ports"]] for r in open_rules] == [[50051]]
        else:
            assert not open_rules, f"{svc} is reachable from outside: {open_rules}"
            assert all({p["port"] for p in r["ports"]} == {METRICS_PORT} for r in rules), svc
    services = {s["metadata"]["name"]: s["spec"].get("type", "ClusterIP") for s in of_kind(docs, "Service")}
    assert services.pop("distill-gateway") == "LoadBalancer"
    assert set(services.values()) == {"ClusterIP"}


def test_egress_is_limited_to_what_each_service_needs() -> None:
    docs = render("prod")
    for svc in SERVICES:
        egress = policies_for(docs, pod_labels(docs, svc), "Egress")
        assert egress, f"{svc} is not isolated for egress"
        blocks = [
            peer["ipBlock"]
            for p in egress
            for rule in p["spec"].get("egress", [])
            for peer in rule.get("to", [])
            if "ipBlock" in peer
        ]
        if svc == "gateway":
            assert not blocks, "the gateway never needs the internet"
            continue
        for block in blocks:  # the internet, minus private, loopback and metadata ranges
            excluded = [ipaddress.ip_network(c) for c in block.get("except", [])]
            for addr in ("127.0.0.1", "10.1.2.3", "169.254.169.254", "192.168.1.1", "::1", "fd00::1"):
                ip = ipaddress.ip_address(addr)
                if ip in ipaddress.ip_network(block["cidr"]):
                    assert any(ip in net for net in excluded), f"{svc} may reach {addr}"


def test_dev_has_no_network_policies_and_no_keda() -> None:
    docs = render("dev")
    assert not of_kind(docs, "NetworkPolicy")
    assert not of_kind(docs, "ScaledObject")


def test_each_stage_scales_on_its_own_three_durables() -> None:
    docs = render("prod")
    accounts = yaml.safe_load((ROOT / "deploy/nats/accounts.yaml").read_text())["config"]["merge"]["accounts"]
    values = yaml.safe_load((ROOT / "deploy/nats/values.yaml").read_text())
    scaled = {so["spec"]["scaleTargetRef"]["name"]: so for so in of_kind(docs, "ScaledObject")}
    assert set(scaled) == {f"distill-{svc}" for svc in STAGE_OF}
    for svc, stage in STAGE_OF.items():
        so = scaled[f"distill-{svc}"]
        spec = so["spec"]
        triggers = spec["triggers"]
        assert {t["type"] for t in triggers} == {"nats-jetstream"}
        consumers = {t["metadata"]["consumer"] for t in triggers}
        assert consumers == {subjects.job_consumer(stage, p) for p in subjects.PRIORITIES}
        for t in triggers:
            md = t["metadata"]
            assert md["stream"] == subjects.JOBS_STREAM
            assert md["account"] in accounts and accounts[md["account"]].get("jetstream") == "enabled"
            assert md["natsServerMonitoringEndpoint"].endswith(f":{values['config']['monitor']['port']}")
            assert md["natsServerMonitoringEndpoint"].startswith("nats-headless.distill.")
            assert int(md["lagThreshold"]) > 0
        formula = spec["advanced"]["scalingModifiers"]["formula"]
        assert set(formula.replace("+", " ").split()) == {t["name"] for t in triggers}
        assert 1 <= spec["minReplicaCount"] < spec["maxReplicaCount"]
        assert spec["cooldownPeriod"] > 0
        # KEDA owns the replica count: the Deployment must not fight it on every apply.
        assert "replicas" not in deployment(docs, svc)["spec"]


def test_the_gateway_scales_on_cpu() -> None:
    for overlay in ("dev", "prod"):
        docs = render(overlay)
        hpa = named(docs, "HorizontalPodAutoscaler", "distill-gateway")
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", "distill-gateway")
        [metric] = hpa["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert "replicas" not in deployment(docs, "gateway")["spec"]
    assert named(render("prod"), "HorizontalPodAutoscaler", "distill-gateway")["spec"]["minReplicas"] >= 2


def test_database_connections_fit_at_the_scaling_maxima() -> None:
    """Every pod at its maximum count, each with its SQLAlchemy pool full, stays under max_connections."""
    docs = render("prod")
    from tests.deploy.manifests import env_of

    maxima = {svc: so["spec"]["maxReplicaCount"] for svc, so in _scaled(docs).items()}
    maxima["gateway"] = named(docs, "HorizontalPodAutoscaler", "distill-gateway")["spec"]["maxReplicas"]
    maxima["notifier"] = 1
    pool = int(env_of(docs, deployment(docs, "gateway"))["DISTILL_DATABASE_POOL_SIZE"])
    # distill_core.db.session.make_engine: pool_size + max_overflow (= pool_size); the stage
    # runner opens its own engine with pool_size=4.
    per_pod = {"gateway": 2 * pool, "notifier": 2 * pool, "parser": 8, "ai": 8, "notion": 8}
    budget = sum(maxima[s] * per_pod[s] for s in SERVICES) + 1  # + the migration Job
    cluster = of_kind(docs, "Cluster")[0]
    max_connections = int(cluster["spec"]["postgresql"]["parameters"]["max_connections"])
    assert budget + 20 <= max_connections, f"{budget} connections at the maxima, max_connections {max_connections}"


def _scaled(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {so["spec"]["scaleTargetRef"]["name"].removeprefix("distill-"): so for so in of_kind(docs, "ScaledObject")}
