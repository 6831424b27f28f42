"""Regenerate keda.sh_v1alpha1_ScaledObject.json from the PyPI package cloudcoil-models-keda.

cloudcoil-models-keda ships pydantic models generated from KEDA's official CRDs
(config/crd/bases/keda.sh_scaledobjects.yaml of the KEDA release in its version number);
this script writes their JSON Schema, made strict (an object lists its fields, unknown
ones are refused, as kubernetes-validate's strict schemas do for built-in kinds, so a
misspelt field fails the test instead of being pruned silently by the API server).

Run it in a throw-away environment, not the project's (the package is not a dependency):

    python3 -m venv /tmp/keda-schema && /tmp/keda-schema/bin/pip install cloudcoil-models-keda==2.16.1.0
    /tmp/keda-schema/bin/python tests/deploy/schemas/vendor_keda.py
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("keda.sh_v1alpha1_ScaledObject.json")


def strict(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: strict(v) for k, v in node.items()}
        if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
    elif isinstance(node, list):
        node = [strict(v) for v in node]
    return node


def main() -> None:
    from cloudcoil.models.keda.v1alpha1 import ScaledObject

    schema = strict(ScaledObject.model_json_schema(by_alias=True))
    schema["$comment"] = (
        f"KEDA ScaledObject (keda.sh/v1alpha1) from PyPI cloudcoil-models-keda=={version('cloudcoil-models-keda')}, "
        "generated from KEDA's official CRD; made strict by tests/deploy/schemas/vendor_keda.py"
    )
    OUT.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
