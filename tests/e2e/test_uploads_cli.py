"""Local files through the command line and a whole `distill up` stack (embedded NATS with
its least-privilege users, PostgreSQL, every service): `distill submit` uploads them with a
progress bar, the parser reads them (OCR for the image and the scanned PDF), the AI and
export stages run as for pages; arguments that are not files or URLs, and a file over the
upload limit, are refused saying why."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from distill.v1 import task_pb2
from distill_client import AsyncClient

from tests.e2e.test_api_pipeline import cli, new_key
from tests.integration.upload_samples import STYLES, TEXTS, encoded, found_share, image_pdf, text_image

pytestmark = pytest.mark.e2e


async def test_submit_uploads_local_files_and_they_go_through_every_stage(stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key = new_key(stack, f"files-{uuid.uuid4().hex[:6]}")
    (font, size), (font2, size2) = STYLES[0], STYLES[1]
    (tmp_path / "recipe.png").write_bytes(encoded(text_image(TEXTS[0], font, size), "PNG"))
    (tmp_path / "scan.pdf").write_bytes(image_pdf([text_image(TEXTS[1], font2, size2)]))
    (tmp_path / "notes.md").write_text("# Field notes\n\nThe garden opened in May with twelve beds of herbs.\n")
    files = [str(tmp_path / n) for n in ("recipe.png", "scan.pdf", "notes.md")]
    r = cli(stack, "submit", "--wait", "--label", "via=files", *files, key=key)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "uploading" in r.stderr and "3 input(s)" in r.stderr  # the upload's progress bar
    task_id = r.stdout.strip().splitlines()[-1]
    r = cli(stack, "status", task_id, "--json", key=key)
    task = json.loads(r.stdout)
    assert r.returncode == 0 and task["status"] == "TASK_STATUS_SUCCEEDED" and task["input_kind"] == "INPUT_KIND_FILE"
    items = task["items"]
    assert [i["input"].rsplit("/", 1)[-1] for i in items] == ["recipe.png", "scan.pdf", "notes.md"]
    assert all(i["input"].startswith("upload://") and i["export"]["url"].startswith("file://") for i in items)
    assert items[0]["title"] == "recipe.png" and items[2]["title"] == "Field notes"
    async with AsyncClient(stack.gateway, key) as client:
        full = [await client.get_item(i["id"], full=True) for i in items]
    for item, want in ((full[0], TEXTS[0]), (full[1], TEXTS[1])):
        assert item.status == task_pb2.ITEM_STATUS_SUCCEEDED
        assert found_share(want, item.parsed.text) >= 0.9, item.parsed.text
        assert item.ai.summary, "the AI stage summarised the OCR'd text"


def test_arguments_that_are_neither_urls_nor_files_are_usage_errors(stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key = new_key(stack, f"args-{uuid.uuid4().hex[:6]}")
    for args, says in (
        (["recipe.jgp"], "'recipe.jgp' is neither a URL (http:// or https://) nor a file that exists"),
        ([str(tmp_path)], "is a directory: give the files in it"),
    ):
        r = cli(stack, "submit", *args, key=key)
        assert r.returncode == 2 and says in r.stderr, r.stderr
    big = tmp_path / "big.tiff"
    with open(big, "wb") as f:
        f.truncate(26 * 1024 * 1024)  # over the default 25 MiB per file
    r = cli(stack, "submit", str(big), key=key)
    assert r.returncode == 1 and "RESOURCE_EXHAUSTED" in r.stderr, r.stderr
    assert "'big.tiff' is larger than" in r.stderr and "DISTILL_UPLOAD_MAX_FILE_BYTES" in r.stderr
    r = cli(stack, "list", "--json", key=key)
    assert json.loads(r.stdout)["tasks"] == [], "a refused upload made a task"
