"""Every DISTILL_* variable a pod gets is a setting its service actually reads.

The accepted names are derived, at test time, from the settings classes the services
instantiate (other engineers add settings; nothing is hard-coded here): the class's own
fields under its env prefix, plus the runner knobs of the service's own stage
(DISTILL_PARSER_*, DISTILL_AI_*, DISTILL_NOTION_* from StageSettings).
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_settings import BaseSettings

from tests.deploy.manifests import OVERLAYS, SERVICES, STAGE_OF, deployment, env_names, env_of, of_kind, render

SETTINGS_CLASS = {
    "gateway": "distill_core.settings:GatewaySettings",
    "parser": "distill_parser.settings:ParserSettings",
    "ai": "distill_ai.settings:AiSettings",
    "notion": "distill_notion.settings:ExportSettings",
    "notifier": "distill_notifier.settings:NotifierSettings",
}
# Settings a service reads through more classes than its main one.
EXTRA_CLASSES = {
    "gateway": ["distill_gateway.notifications:NotificationSettings"],
}


def _load(path: str) -> type[BaseSettings]:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def settings_class(service: str) -> type[BaseSettings]:
    return _load(SETTINGS_CLASS[service])


def _field_env_names(cls: type[BaseSettings]) -> set[str]:
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    names: set[str] = set()
    for name, field in cls.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            continue  # nested stage settings: read through their own prefixes (below)
        aliases = [a for a in (field.validation_alias, field.alias) if isinstance(a, str)]
        names |= {a.upper() for a in aliases} or {f"{prefix}{name.upper()}"}
    return names


def accepted(service: str) -> set[str]:
    """The DISTILL_* names `service` reads."""
    from distill_core.settings import SERVICE_OF_STAGE, StageSettings

    names = _field_env_names(settings_class(service))
    for extra in EXTRA_CLASSES.get(service, []):
        names |= _field_env_names(_load(extra))
    stage = STAGE_OF.get(service)
    if stage:
        prefix = f"DISTILL_{SERVICE_OF_STAGE[stage].upper()}_"
        names |= {f"{prefix}{knob.upper()}" for knob in StageSettings.model_fields}
    return names


def test_accepted_names_come_from_the_classes() -> None:
    """Sanity of the derivation itself, on names DESIGN.md makes binding."""
    assert {"DISTILL_NATS_URL", "DISTILL_DATABASE_URL", "DISTILL_GRPC_PORT"} <= accepted("gateway")
    assert {"DISTILL_PARSER_TIMEOUT", "DISTILL_PARSER_ALLOW_PRIVATE_NETWORKS"} <= accepted("parser")
    assert {"DISTILL_AI_PROVIDER", "DISTILL_AI_CONCURRENCY"} <= accepted("ai")
    assert {"DISTILL_EXPORT_DESTINATION", "DISTILL_NOTION_TOKEN", "DISTILL_NOTION_TIMEOUT"} <= accepted("notion")
    assert "DISTILL_PARSER_TIMEOUT" not in accepted("ai")  # another stage's knob is not "read"
    assert "DISTILL_GRPC_PORT" not in accepted("parser")


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_every_distill_variable_is_read_by_the_service(overlay: str, service: str) -> None:
    docs = render(overlay)
    dep = deployment(docs, service)
    names = {n for n in env_names(docs, dep) if n.startswith("DISTILL_")}
    unknown = sorted(names - accepted(service))
    assert not unknown, f"{overlay}: distill-{service} gets settings it never reads: {unknown}"


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_the_service_accepts_the_values(overlay: str, service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings class loads the pod's environment: types, ranges and literals hold."""
    docs = render(overlay)
    dep = deployment(docs, service)
    env = env_of(docs, dep)
    for name in env_names(docs, dep) - set(env):  # from Secrets: any well-formed value
        env[name] = "postgresql://u:p@db:5432/distill" if name.endswith("DATABASE_URL") else "secret"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings: Any = settings_class(service)()
    assert settings.nats_url == env["DISTILL_NATS_URL"]
    assert settings.nats_user == service
    assert settings.grpc_host == "0.0.0.0"
    stage = STAGE_OF.get(service)
    if stage:
        prefix = f"DISTILL_{service.upper()}_"
        assert settings.stage(stage).timeout == float(env[f"{prefix}TIMEOUT"])
        assert settings.stage(stage).concurrency == int(env[f"{prefix}CONCURRENCY"])


def test_a_misspelt_setting_is_caught() -> None:
    docs = render("dev")
    dep = deployment(docs, "parser")
    cm_name = dep["spec"]["template"]["spec"]["containers"][0]["envFrom"][1]["configMapRef"]["name"]
    cm = next(c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"] == cm_name)
    cm["data"]["DISTILL_PARSER_TIMEOUTS"] = "60"
    names = {n for n in env_names(docs, dep) if n.startswith("DISTILL_")}
    assert names - accepted("parser") == {"DISTILL_PARSER_TIMEOUTS"}
