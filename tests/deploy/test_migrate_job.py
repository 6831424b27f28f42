"""The migration Job's command, `python -m distill_core.db.migrate`, run for real."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.deploy.manifests import main_container, of_kind, render


def run_job_command(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    [job] = of_kind(render("prod"), "Job")
    command = main_container(job)["command"]
    assert command[0] == "python"
    base = {k: v for k, v in os.environ.items() if not k.startswith("DISTILL_")}
    return subprocess.run(
        [sys.executable, *command[1:]], env={**base, **env}, capture_output=True, text=True, timeout=120
    )


@pytest.mark.integration
def test_migrate_brings_the_database_to_head(database_url: str) -> None:
    out = run_job_command({"DISTILL_DATABASE_URL": database_url})
    assert out.returncode == 0, out.stderr
    assert "latest revision" in out.stderr
    again = run_job_command({"DISTILL_DATABASE_URL": database_url})  # a re-run (an upgrade) is harmless
    assert again.returncode == 0, again.stderr


def test_migrate_without_a_database_url_says_so() -> None:
    out = run_job_command({})
    assert out.returncode != 0
    assert "set DISTILL_DATABASE_URL" in out.stderr
