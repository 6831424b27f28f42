"""The HTTP side's multipart/form-data reading (web/multipart.py, web/upload_form.py): files come
through byte for byte however the body is cut into pieces, form fields become the upload's
options, and a malformed or oversized form is refused saying what is wrong."""

from __future__ import annotations

import os
import random

import pytest
from distill.v1 import common_pb2
from distill.v1 import pipeline_pb2 as ppb
from distill_core.errors import InvalidInput, ResourceExhausted
from distill_gateway.web import multipart
from distill_gateway.web.upload_form import FormToUploadStream

BOUNDARY = b"----WebKitFormBoundaryq7N2xZ0bY1"


def form(*parts: tuple[str, str | None, str, bytes], boundary: bytes = BOUNDARY) -> bytes:
    """A body as browsers write it: (field name, file name or None, content type, value)."""
    out = b""
    for name, filename, kind, value in parts:
        out += b"--" + boundary + b"\r\n"
        disposition = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += disposition.encode() + b"\r\n"
        if kind:
            out += f"Content-Type: {kind}\r\n".encode()
        out += b"\r\n" + value + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


def pieces(body: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(body)), min(len(body) - 1, rng.randint(1, 40))))
    return [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]


def stream(body: bytes, chunks: list[bytes] | None = None, *, limit: int = 1 << 20) -> list[ppb.UploadFilesRequest]:
    f = FormToUploadStream(BOUNDARY, fields_limit=limit)
    out = [m for c in (chunks or [body]) for m in f.feed(c)]
    f.close()
    return out


def files_of(messages: list[ppb.UploadFilesRequest]) -> list[tuple[str, str, bytes]]:
    """(name, content type, bytes) of each file, glued back from its chunks."""
    got: list[tuple[str, str, bytes]] = []
    for m in messages:
        if m.WhichOneof("part") == "file":
            got.append((m.file.name, m.file.content_type, b""))
        elif m.WhichOneof("part") == "chunk":
            name, kind, data = got[-1]
            got[-1] = (name, kind, data + m.chunk)
    return got


def test_files_come_through_whole_however_the_body_is_cut() -> None:
    rng = random.Random(7)
    png = os.urandom(70_000)
    tricky = b"line\r\n--" + BOUNDARY[:-1] + b"X\r\n--\r\n" * 50  # almost a delimiter, many times
    body = form(
        ("priority", None, "", b"high"),
        ("file", "photo.png", "image/png", png),
        ("url", None, "", b"https://example.com/a"),
        ("file", "notes.md", "text/markdown", tricky),
    )
    for _ in range(30):
        messages = stream(body, pieces(body, rng))
        assert messages[0].WhichOneof("part") == "options" and messages[0].options.priority == common_pb2.PRIORITY_HIGH
        assert [m.WhichOneof("part") for m in messages if m.WhichOneof("part") != "chunk"] == [
            "options",
            "file",
            "url",
            "file",
        ]
        assert files_of(messages) == [("photo.png", "image/png", png), ("notes.md", "text/markdown", tricky)]
        assert [m.url for m in messages if m.WhichOneof("part") == "url"] == ["https://example.com/a"]


def test_option_fields_become_the_uploads_options() -> None:
    body = form(
        ("options", None, "application/json", b'{"ai": {"extract_recipe": true}, "labels": {"a": "1"}}'),
        ("stages", None, "", b"parse,ai"),
        ("label", None, "", b"list=reading"),
        ("idempotency_key", None, "", b" k-1 "),
        ("file", "a.txt", "text/plain", b"hello"),
    )
    options = stream(body)[0].options
    assert options.ai.extract_recipe and dict(options.labels) == {"a": "1", "list": "reading"}
    assert list(options.stages) == [common_pb2.STAGE_PARSE, common_pb2.STAGE_AI]
    assert options.idempotency_key == "k-1"


def test_browser_names_are_read_as_browsers_write_them() -> None:
    body = (
        b"--" + BOUNDARY + b"\r\n"
        b'Content-Disposition: form-data; name="file"; filename="caf\xc3\xa9 %22menu%22.png"\r\n'
        b"Content-Type: image/png\r\n\r\nPNG\r\n"
        b"--" + BOUNDARY + b"\r\n"
        b'Content-Disposition: form-data; name="file"; filename="x.txt"; filename*=UTF-8\'\'na%C3%AFve.txt\r\n'
        b"\r\ntext\r\n"
        b"--" + BOUNDARY + b"\r\n"
        b'Content-Disposition: form-data; name="file"; filename=""\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n\r\n"  # a file input with nothing chosen
        b"--" + BOUNDARY + b"--"
    )
    assert [(n, k) for n, k, _ in files_of(stream(body))] == [('café "menu".png', "image/png"), ("naïve.txt", "")]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (form(("file", "a.txt", "", b"x"))[:-10], "ended before its closing boundary"),
        (form(("priority", None, "", b"high")), "no files"),
        (form(("colour", None, "", b"red")), "unknown form field 'colour'"),
        (form(("upload", "a.png", "image/png", b"x")), "files go in fields named 'file'"),
        (form(("file", None, "", b"x")), "is not a file"),
        (form(("url", None, "", b"https://a.example/"), ("priority", None, "", b"low")), "must come before"),
        (form(("priority", None, "", b"urgent"), ("file", "a.txt", "", b"x")), "priority: unknown value 'urgent'"),
        (form(("options", None, "", b"{nope"), ("file", "a.txt", "", b"x")), "'options' is not valid JSON"),
        (form(("label", None, "", b"nolabel"), ("file", "a.txt", "", b"x")), "is not key=value"),
        (b"--" + BOUNDARY + b"\r\nContent-Type: text/plain\r\n\r\nx\r\n--" + BOUNDARY + b"--", "Disposition"),
    ],
)  # fmt: skip
def test_a_malformed_form_says_what_is_wrong(body: bytes, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        stream(body)


def test_fields_and_headers_are_bounded() -> None:
    with pytest.raises(ResourceExhausted, match="DISTILL_MAX_REQUEST_BYTES"):
        stream(form(("url", None, "", b"https://a.example/" + b"a" * 5000)), limit=4096)
    with pytest.raises(ResourceExhausted, match="DISTILL_MAX_REQUEST_BYTES"):
        stream(b"x" * 10_000 + form(("file", "a.txt", "", b"x")), limit=4096)  # a preamble is not free
    long_header = b"--" + BOUNDARY + b"\r\nX-Pad: " + b"a" * 20_000
    f = FormToUploadStream(BOUNDARY, fields_limit=1 << 20)
    with pytest.raises(InvalidInput, match="longer than 16384 bytes"):
        f.feed(long_header)
    big_file = form(("file", "big.bin", "", b"z" * 50_000))
    assert files_of(stream(big_file, limit=4096))[0][2] == b"z" * 50_000, "file bytes are the servicer's to limit"


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("multipart/form-data; boundary=abc", b"abc"),
        ('multipart/form-data; boundary="a b:c"', b"a b:c"),
        ("Multipart/Form-Data; charset=utf-8; boundary=----x", b"----x"),
        ("application/json", None),
        ("multipart/form-data", None),
        (None, None),
    ],
)
def test_the_boundary_comes_from_the_content_type(header: str | None, ok: bytes | None) -> None:
    if ok is not None:
        assert multipart.boundary_of(header) == ok
    else:
        with pytest.raises(InvalidInput):
            multipart.boundary_of(header)
