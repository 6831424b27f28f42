"""docs/api.md documents every RPC of the public services and every field of their requests."""

from __future__ import annotations

import re
from pathlib import Path

from distill.v1 import admin_pb2, notifications_pb2, pipeline_pb2

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_every_rpc_has_a_section_and_every_request_field_is_mentioned() -> None:
    text = DOC.read_text()
    headings = set(re.findall(r"^### `(\w+)`$", text, re.M))
    missing_rpcs, missing_fields = [], []
    for module, service in ((pipeline_pb2, "Pipeline"), (admin_pb2, "Admin"), (notifications_pb2, "Notifications")):
        sd = module.DESCRIPTOR.services_by_name[service]
        for m in sd.methods:
            if m.name not in headings:
                missing_rpcs.append(f"{service}.{m.name}")
            section = text.split(f"### `{m.name}`", 1)[-1].split("\n### ", 1)[0]
            missing_fields += [
                f"{m.input_type.name}.{f.name}"
                for f in m.input_type.fields
                if f"`{f.name}`" not in section and f.name not in section
            ]
    assert not missing_rpcs, f"RPCs without a section in docs/api.md: {missing_rpcs}"
    assert not missing_fields, f"request fields not described in their RPC's section: {missing_fields}"
