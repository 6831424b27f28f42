"""The parser benchmarks in their smoke size (`python -m bench --smoke` runs the same), so they
never rot: each starts a real stack, pushes pages through the parse stage and reports its figures.
Results go to a temporary folder, not over bench/results/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bench.common
from bench import parser_quality, parser_throughput

pytestmark = [pytest.mark.bench, pytest.mark.timeout(300)]


@pytest.fixture(autouse=True)
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(bench.common, "RESULTS", tmp_path)
    return tmp_path


@pytest.mark.skipif(not parser_quality.CORPUS.is_dir(), reason=f"no recipe corpus at {parser_quality.CORPUS}")
def test_parser_quality_smoke(results: Path) -> None:
    figs = {f.name: f for f in parser_quality.main(smoke=True)}
    assert figs["parser_quality.items_failed"].value == 0, figs["parser_quality.items_failed"].note
    for name in ("recipe_title_exact", "ingredients_matching", "instructions_present", "language_same"):
        assert 0 < figs[f"parser_quality.{name}"].value <= 100, name
    assert figs["parser_quality.recipe_title_exact"].value >= 80  # 5 pages: one miss at most
    written = json.loads((results / "parser_quality.json").read_text())
    assert {f["name"] for f in written["figures"]} == set(figs)


def test_parser_throughput_smoke(results: Path) -> None:
    figs = {f.name: f for f in parser_throughput.main(smoke=True)}
    assert figs["parser_throughput.pipeline_pages_per_s"].value > 0
    assert figs["parser_throughput.bare_trafilatura_pages_per_s"].value > 0
    assert figs["parser_throughput.parser_cpu_ms_per_page"].value > 0
    assert (results / "parser_throughput.json").exists()
