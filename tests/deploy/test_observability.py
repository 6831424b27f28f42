"""The Grafana dashboard and the Prometheus alert rules in deploy/: valid, wired into the prod
overlay, and reading only metrics the services export (and every metric shown somewhere).

With promtool installed (Debian's `prometheus` package) the rules also pass `promtool check
rules` and the unit tests of distill-alerts.test.yaml; without it, the YAML shape and every
expression are checked here (tests/deploy/promql.py), which is what always runs.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import cache
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import KUSTOMIZE, ROOT, named, render
from tests.deploy.promql import PromQLError, parse

MONITORING = KUSTOMIZE / "components" / "monitoring"
RULES = MONITORING / "distill-alerts.yaml"
RULE_TESTS = MONITORING / "distill-alerts.test.yaml"
DASHBOARD = MONITORING / "distill-dashboard.json"
DOC = ROOT / "docs" / "observability.md"
SEVERITIES = {"info", "warning", "critical"}
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
# What the required alerts watch (the list): each is an alert here.
REQUIRED_ALERTS = {"DistillStageErrorRate", "DistillQueueLagGrowing", "DistillDeadLetters", "DistillNoWorkers"}
# Grafana variables, as Grafana would fill them in.
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$stage": "parse", "${stage}": "parse"}
# Exported metrics that neither the dashboard nor the rules need to show (tuning detail).
NOT_SHOWN = {"distill_runner_batch_size", "distill_stage_redelivered_done_total", "grpc_server_started_total"}


@cache
def exported() -> dict[str, set[str]]:
    """Metric family -> the sample names Prometheus sees (foo_total, foo_bucket, ...)."""
    import distill_core.metrics
    import distill_notifier.metrics
    import prometheus_client

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    out: dict[str, set[str]] = {}
    for module in (distill_core.metrics, distill_notifier.metrics):
        for obj in vars(module).values():
            if isinstance(obj, prometheus_client.metrics.MetricWrapperBase):
                family = obj._name
                kind = obj._type
                out[family + ("_total" if kind == "counter" else "")] = {family + s for s in suffixes[kind]}
    return out


def exported_samples() -> set[str]:
    return set().union(*exported().values())


def rules() -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def dashboard_exprs() -> list[tuple[str, str]]:
    """(panel title, expression with Grafana's variables filled in) of every query."""
    out = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for var, val in GRAFANA_VARS.items():
                expr = expr.replace(var, val)
            out.append((panel["title"], expr))
    return out


def test_rule_file_has_the_shape_prometheus_loads() -> None:
    doc = yaml.safe_load(RULES.read_text())
    assert set(doc) == {"groups"}
    names = [g["name"] for g in doc["groups"]]
    assert len(names) == len(set(names)), names
    anchors = set(re.findall(r"^#+ .*?(Distill\w+)", DOC.read_text(), re.M))
    seen = set()
    for group in doc["groups"]:
        assert set(group) <= {"name", "interval", "rules", "limit"}
        for rule in group["rules"]:
            name = rule.get("alert")
            assert name and name not in seen, f"alert name missing or twice: {name}"
            seen.add(name)
            assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}, rule
            assert DURATION.match(rule.get("for", "0s")), f"{name}: bad for {rule.get('for')!r}"
            assert rule["labels"]["severity"] in SEVERITIES, name
            ann = rule["annotations"]
            assert {"summary", "description", "runbook"} <= set(ann), name
            assert ann["runbook"] == f"docs/observability.md#{name.lower()}", name
            assert name in anchors, f"{name} has no section in docs/observability.md"
    assert REQUIRED_ALERTS <= seen


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r["alert"])
def test_every_rule_is_promql_on_exported_metrics(rule: dict[str, Any]) -> None:
    parsed = parse(rule["expr"])
    assert parsed.type == "vector", f"{rule['alert']}: an alert needs a vector, not a {parsed.type}"
    unknown = parsed.metrics - exported_samples()
    assert not unknown, f"{rule['alert']} reads metrics no service exports: {sorted(unknown)}"


def test_the_dashboard_is_grafana_json_on_exported_metrics() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["title"] and dash["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for p in dash["panels"]:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${datasource}" and p["targets"], p["title"]
    exprs = dashboard_exprs()
    assert len(exprs) >= 20
    for title, expr in exprs:
        try:
            parsed = parse(expr)
        except PromQLError as e:
            raise AssertionError(f"panel {title!r}: {e}\n{expr}") from None
        unknown = parsed.metrics - exported_samples()
        assert not unknown, f"panel {title!r} reads metrics no service exports: {sorted(unknown)}"


def test_every_exported_metric_is_on_the_dashboard_or_in_an_alert() -> None:
    used: set[str] = set()
    for _, expr in dashboard_exprs():
        used |= parse(expr).metrics
    for rule in rules():
        used |= parse(rule["expr"]).metrics
    missing = {family for family, samples in exported().items() if not samples & used} - NOT_SHOWN
    assert not missing, f"exported but shown nowhere (dashboard, alerts): {sorted(missing)}"


@pytest.mark.parametrize(
    "expr",
    [
        "rate(distill_stage_items_total)",  # rate() of an instant vector
        "sum(rate(distill_stage_items_total[5m])",  # unbalanced
        "histogram_quantile(distill_stage_duration_seconds_bucket, 0.9)",  # arguments swapped
        'distill_stage_items_total{outcome=~"(done"}',  # bad regex
        "distill_stage_items_total[5]",  # duration without unit
        "rates(distill_stage_items_total[5m])",  # no such function
        "distill_stage_workers and 0",  # and with a scalar
        "sum by (stage (distill_stage_workers)",
        "distill_stage_workers ==",
    ],
)
def test_the_promql_check_rejects_broken_expressions(expr: str) -> None:
    with pytest.raises(PromQLError):
        parse(expr)


def _promtool() -> str:
    tool = shutil.which("promtool")
    if not tool:
        pytest.skip("promtool is not installed (apt-get install prometheus); the checks above still ran")
    return tool


def test_promtool_accepts_the_rules() -> None:
    out = subprocess.run([_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(rules())} rules found" in out.stdout


def test_the_alerts_fire_when_they_should_and_only_then() -> None:
    """distill-alerts.test.yaml: error rate, growing lag, no workers, dead letters on synthetic series."""
    out = subprocess.run(
        [_promtool(), "test", "rules", RULE_TESTS.name], capture_output=True, text=True, timeout=120, cwd=MONITORING
    )
    assert out.returncode == 0, out.stdout + out.stderr
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert REQUIRED_ALERTS <= tested


def test_the_prod_overlay_ships_the_dashboard_and_the_rules() -> None:
    docs = render("prod")
    dash = named(docs, "ConfigMap", "distill-grafana-dashboard")
    assert dash["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dash["data"]["distill-dashboard.json"]) == json.loads(DASHBOARD.read_text())
    rules_cm = named(docs, "ConfigMap", "distill-prometheus-rules")
    assert yaml.safe_load(rules_cm["data"]["distill-alerts.yaml"]) == yaml.safe_load(RULES.read_text())
    # Prometheus finds every service's /metrics through the pod annotations.
    for dep in (d for d in docs if d.get("kind") == "Deployment"):
        ann = dep["spec"]["template"]["metadata"]["annotations"]
        assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/port"] == "9090", dep["metadata"]["name"]
