"""Uploaded files through the real parse stage (gateway, runner, NATS JetStream, PostgreSQL):
text rendered into images and an image-only PDF is read back by OCR; corrupt files fail
permanently with UNREADABLE_FILE; a blank image is a "no content" result; a PDF of
thousands of pages and images far over the pixel limit stop at the limits, quickly.

OCR is CPU-heavy: the images are small and the OCR runs few (about ten); the seconds per
page each run took are printed (pytest -s) and kept in the parsed content's `ocr` data.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from distill.v1 import task_pb2
from distill_client import AsyncClient, FileData
from distill_core import subjects
from distill_core.runner import StageRunner
from distill_parser.settings import ParserSettings
from distill_parser.stage import ParseStage

from tests.integration.gateway_fixture import Gateway, running_gateway
from tests.integration.upload_samples import (
    STYLES,
    TEXTS,
    blank_png,
    corrupt_png,
    encoded,
    found_share,
    huge_image_pdf,
    image_pdf,
    many_page_pdf,
    png_header_claiming,
    text_image,
)

pytestmark = pytest.mark.integration

MAX_PAGES = 3
MAX_PIXELS = 20_000_000


@pytest.fixture(scope="module")
async def gw(nats_url: str, database_url: str) -> AsyncIterator[tuple[Gateway, str]]:
    async with running_gateway(nats_url, database_url, create_task_rate=0) as g:
        await g.js.purge_stream(subjects.JOBS_STREAM)
        settings = ParserSettings(
            nats_url=nats_url,
            database_url=database_url,
            parser_ocr_max_pages=MAX_PAGES,
            parser_ocr_max_pixels=MAX_PIXELS,
            parser_extract_threads=1,
        )
        runner = StageRunner(ParseStage(settings), settings)
        await runner.start()
        _, key = await g.tenant()
        try:
            yield g, key
        finally:
            await runner.stop()


async def parse(
    gw: tuple[Gateway, str], files: list[FileData], notes: list[str] | None = None, timeout: float = 120
) -> list[task_pb2.Item]:
    """Upload the files as a parse-only task and follow it to the end (the phase notes it showed
    go to `notes`); its items in full."""
    g, key = gw
    async with AsyncClient(g.address, key) as client:
        task = await client.upload(files, stages=["parse"])

        async def follow() -> None:
            async for ev in client.watch(task.id):
                if ev.type == task_pb2.EVENT_TYPE_ITEM_UPDATED and notes is not None:
                    notes.extend(ph.message for ph in ev.item.phases if ph.message)

        await asyncio.wait_for(follow(), timeout)
        done = await client.get_task(task.id, include_items=True)
        return [await client.get_item(i.id, full=True) for i in done.items]


def ocr_data(item: task_pb2.Item) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(item.parsed.structured_data).get("ocr", {})


async def test_text_in_images_and_in_an_image_only_pdf_is_read_back(gw: tuple[Gateway, str]) -> None:
    images = [text_image(t, name, size) for t, (name, size) in zip(TEXTS, STYLES, strict=True)]
    files = [
        FileData("recipe.png", encoded(images[0], "PNG")),
        FileData("letter.jpg", encoded(images[1], "JPEG")),
        FileData("invoice.webp", encoded(images[2], "WEBP")),
        FileData("scan.pdf", image_pdf([images[0], images[2]])),  # two scanned pages, no text layer
    ]
    t = time.monotonic()
    notes: list[str] = []
    items = await parse(gw, files, notes)
    took = time.monotonic() - t
    assert "OCR page 1 of 2" in notes or "OCR page 2 of 2" in notes, notes  # the scan's pages, live
    expected = [TEXTS[0], TEXTS[1], TEXTS[2], TEXTS[0] + "\n" + TEXTS[2]]
    for item, want, f in zip(items, expected, files, strict=True):
        assert item.status == task_pb2.ITEM_STATUS_SUCCEEDED, (f.name, item.error)
        share = found_share(want, item.parsed.text)
        ocr = ocr_data(item)
        print(
            f"{f.name}: {share:.0%} of the words, {ocr.get('seconds', 0) / max(ocr.get('pages_read', 1), 1):.2f} s/page"
        )
        assert share >= 0.9, f"{f.name}: only {share:.0%} of the words found in {item.parsed.text!r}"
        assert item.title == f.name or f.name == "scan.pdf"  # an image is known by its file name
        assert ocr["engine"] == "rapidocr" and ocr["pages_read"] == (2 if f.name == "scan.pdf" else 1)
        assert "OCR" in item.phases[0].message
    print(f"4 files, 5 pages: {took:.1f} s from upload to the end of the task")


async def test_corrupt_files_fail_for_good_with_unreadable_file(gw: tuple[Gateway, str]) -> None:
    items = await parse(
        gw, [FileData("broken.png", corrupt_png()), FileData("broken.pdf", b"%PDF-1.7\n1 0 obj <<\n garbage")]
    )
    for item in items:
        assert item.status == task_pb2.ITEM_STATUS_FAILED
        assert item.error.code == "UNREADABLE_FILE" and not item.error.retryable, item.error
        assert item.phases[0].attempts == 1  # permanent: not tried again
        assert "could not be read" in item.error.message


async def test_an_image_without_text_is_a_result_with_no_content(gw: tuple[Gateway, str]) -> None:
    (item,) = await parse(gw, [FileData("white.png", blank_png())])
    assert item.status == task_pb2.ITEM_STATUS_SUCCEEDED
    assert item.parsed.no_content and item.parsed.text == "" and item.phases[0].message.startswith("no content")


async def test_hostile_files_stop_at_the_limits(gw: tuple[Gateway, str]) -> None:
    t = time.monotonic()
    items = await parse(
        gw,
        [
            FileData("thousands.pdf", many_page_pdf(3000)),
            FileData("huge-image.pdf", huge_image_pdf(30_000, 30_000)),
            FileData("bomb.png", png_header_claiming(60_000, 60_000)),
        ],
    )
    took = time.monotonic() - t
    thousands, huge, bomb = items
    # 3000 pages without text: OCR reads MAX_PAGES of them, and says it stopped.
    assert thousands.status == task_pb2.ITEM_STATUS_SUCCEEDED, thousands.error
    ocr = ocr_data(thousands)
    assert ocr["pages_read"] == MAX_PAGES and ocr["pages_wanted"] == 500  # the parser reads at most 500 pages
    assert "page limit" in ocr["stopped"] and "stopped at the page limit" in thousands.phases[0].message
    # A page whose image claims 900 MP is skipped, never decoded.
    assert huge.status == task_pb2.ITEM_STATUS_SUCCEEDED and huge.parsed.no_content
    assert ocr_data(huge)["skipped"] == ["page 1: an image of 900 MP"]
    # An image whose header claims 3600 MP is refused from its header.
    assert bomb.status == task_pb2.ITEM_STATUS_FAILED and bomb.error.code == "IMAGE_TOO_LARGE", bomb.error
    assert "DISTILL_PARSER_OCR_MAX_PIXELS" in bomb.error.message and not bomb.error.retryable
    assert took < 60, f"the hostile files took {took:.0f} s"
