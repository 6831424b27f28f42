"""The committed generated code must be what `make protos` produces from protos/."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from gen_protos import DEFAULT_OUT, generate  # noqa: E402


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    fresh = {p.relative_to(tmp_path): p.read_bytes() for p in generate(tmp_path)}
    committed = {
        p.relative_to(DEFAULT_OUT): p.read_bytes()
        for p in (DEFAULT_OUT / "distill").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert sorted(map(str, fresh)) == sorted(map(str, committed)), "generated files differ: run `make protos`"
    stale = [str(k) for k in fresh if fresh[k] != committed[k]]
    assert not stale, f"stale generated code (run `make protos` and commit): {stale}"
