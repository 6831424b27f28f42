"""Every overlay renders, and every resource is valid for Kubernetes 1.32 and the CRDs.

Rendering is `kubectl kustomize` (offline); built-in kinds are checked with the strict
schemas of kubernetes-validate, KEDA's ScaledObject and CloudNativePG's Cluster with the
JSON Schemas in tests/deploy/schemas/ (see the README there for where they come from).
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from tests.deploy.manifests import (
    COMPONENTS,
    K8S_VERSION,
    KUSTOMIZE,
    OVERLAYS,
    SERVICES,
    deployment,
    main_container,
    of_kind,
    render,
    render_dir,
)

SCHEMAS = Path(__file__).parent / "schemas"
CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_v1alpha1_ScaledObject.json",
    ("postgresql.cnpg.io/v1", "Cluster"): "postgresql.cnpg.io_v1_Cluster.json",
}


@cache
def crd_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / CRD_SCHEMAS[(api_version, kind)]).read_text())
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema)


def validation_errors(doc: dict[str, Any]) -> list[str]:
    """Why `doc` is invalid (empty when valid)."""
    key = (doc.get("apiVersion", ""), doc.get("kind", ""))
    name = f"{key[1]}/{doc.get('metadata', {}).get('name')}"
    if key in CRD_SCHEMAS:
        errors = sorted(crd_validator(*key).iter_errors(doc), key=lambda e: list(e.path))
        return [f"{name}: {'.'.join(map(str, e.path))}: {e.message}" for e in errors]
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{name}: no schema for {key[0]} {key[1]} (a CRD without a schema in tests/deploy/schemas?)"]
    except kubernetes_validate.ValidationError as e:
        return [f"{name}: {'.'.join(map(str, e.path))}: {e.message}"]
    return []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_resources_are_valid(overlay: str) -> None:
    docs = render(overlay)
    assert docs, f"{overlay} rendered nothing"
    errors = [err for d in docs for err in validation_errors(d)]
    assert not errors, "\n".join(errors)


def test_every_component_renders_and_validates(tmp_path: Path) -> None:
    """All components together on the prod overlay (tracing is opt-in there)."""
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n  - {os.path.relpath(KUSTOMIZE / 'overlays/prod', tmp_path)}\n"
        f"components:\n  - {os.path.relpath(KUSTOMIZE / 'components/tracing', tmp_path)}\n"
    )
    docs = render_dir(tmp_path)
    errors = [err for d in docs for err in validation_errors(d)]
    assert not errors, "\n".join(errors)
    for svc in SERVICES:
        env = {e["name"]: e for e in main_container(deployment(docs, svc)).get("env", [])}
        assert env["OTEL_SERVICE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"].endswith("component']")
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" in env
    assert {c for c in COMPONENTS} == {p.name for p in (KUSTOMIZE / "components").iterdir()}


def test_validation_catches_a_misspelt_field() -> None:
    """The checks above can fail: a typo in a Deployment and in a ScaledObject is reported."""
    docs = render("prod")
    dep = deployment(docs, "parser")
    main_container(dep)["readinesProbe"] = main_container(dep).pop("readinessProbe")
    assert validation_errors(dep)
    so = of_kind(docs, "ScaledObject")[0]
    so["spec"]["maxReplicas"] = so["spec"].pop("maxReplicaCount")
    assert validation_errors(so)
    cluster = of_kind(docs, "Cluster")[0]
    cluster["spec"]["instances"] = 0
    assert validation_errors(cluster)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_deployment_service_and_serviceaccount_per_service(overlay: str) -> None:
    docs = render(overlay)
    for svc in SERVICES:
        dep = deployment(docs, svc)
        sa = dep["spec"]["template"]["spec"]["serviceAccountName"]
        assert sa == f"distill-{svc}"
        assert any(d["metadata"]["name"] == sa for d in of_kind(docs, "ServiceAccount"))
        services = [s for s in of_kind(docs, "Service") if s["spec"]["selector"].items() <= _labels(dep).items()]
        assert [s["metadata"]["name"] for s in services] == [f"distill-{svc}"]
        image = main_container(dep)["image"]
        assert image.split(":")[0].endswith(f"/{svc}"), image
        assert main_container(dep)["command"] == ["python", "-m", f"distill_{svc}"]
    namespaces = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
    assert namespaces == {"distill"}


def test_prod_uses_cloudnativepg_and_dev_an_external_url() -> None:
    for overlay, secret in (("prod", "distill-db-app"), ("dev", "distill-database")):
        docs = render(overlay)
        workloads = of_kind(docs, "Deployment") + of_kind(docs, "Job")
        for w in workloads:
            env = {e["name"]: e for e in main_container(w)["env"]}
            ref = env["DISTILL_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
            assert (ref["name"], ref["key"]) == (secret, "uri"), w["metadata"]["name"]
    clusters = of_kind(render("prod"), "Cluster")
    assert [c["metadata"]["name"] for c in clusters] == ["distill-db"]  # -> Secret distill-db-app
    assert clusters[0]["spec"]["instances"] == 3
    initdb = clusters[0]["spec"]["bootstrap"]["initdb"]
    assert (initdb["database"], initdb["owner"]) == ("distill", "distill")
    assert not of_kind(render("dev"), "Cluster")


def test_migration_job_runs_the_migrate_module() -> None:
    for overlay in OVERLAYS:
        jobs = of_kind(render(overlay), "Job")
        assert len(jobs) == 1
        c = main_container(jobs[0])
        assert c["command"] == ["python", "-m", "distill_core.db.migrate"]
        assert c["image"].split(":")[0].endswith("/gateway")
        assert jobs[0]["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def _labels(dep: dict[str, Any]) -> dict[str, str]:
    return dep["spec"]["template"]["metadata"]["labels"]
