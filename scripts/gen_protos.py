"""Generate Python code for protos/ into libs/proto/src (run by `make protos`).

The generated tree is committed; tests/unit/test_protos_fresh.py regenerates it into a
temporary folder and fails when the committed copy is stale.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[1]
PROTOS = ROOT / "protos"
DEFAULT_OUT = ROOT / "libs" / "proto" / "src"


def generate(out: Path) -> list[Path]:
    """Write *_pb2.py, *_pb2.pyi and *_pb2_grpc.py for every .proto under protos/ into out."""
    out.mkdir(parents=True, exist_ok=True)
    for old in (out / "distill").rglob("*_pb2*.py*") if (out / "distill").exists() else []:
        old.unlink()
    files = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    include = Path(grpc_tools.__file__).parent / "_proto"
    rc = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{PROTOS}",
            f"-I{include}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"--grpc_python_out={out}",
            *files,
        ]
    )
    if rc != 0:
        raise SystemExit(f"protoc failed with exit code {rc}")
    # Every generated folder is a regular package.
    for d in [out / "distill", *(p for p in (out / "distill").rglob("*") if p.is_dir())]:
        if d.name != "__pycache__":
            (d / "__init__.py").touch()
    return sorted(p for p in (out / "distill").rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    if out == DEFAULT_OUT and (out / "distill").exists():
        shutil.rmtree(out / "distill")
    for p in generate(out):
        print(p.relative_to(out))


if __name__ == "__main__":
    main()
