"""Reading a body within the cap: plain, gzip, deflate, bombs, corrupt and unknown encodings."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterable

import pytest
from distill_parser.body import BadEncoding, TooLarge, read_capped

CAP = 64 * 1024


async def stream(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for c in chunks:
        yield c


def pieces(data: bytes, size: int = 4096) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


async def read(data: bytes | list[bytes], encoding: str | None = None, length: str | None = None) -> bytes:
    chunks = data if isinstance(data, list) else pieces(data)
    return await read_capped(stream(chunks), CAP, content_encoding=encoding, content_length=length)


async def test_plain_bodies_up_to_the_cap() -> None:
    assert await read(b"hello") == b"hello"
    assert await read(b"x" * CAP) == b"x" * CAP
    assert await read([]) == b""


async def test_too_large_plain_and_declared() -> None:
    with pytest.raises(TooLarge, match=f"larger than the limit of {CAP} bytes"):
        await read(b"x" * (CAP + 1))
    with pytest.raises(TooLarge, match=r"the page is 1073741824 bytes; the limit is 65536") as e:
        await read([b"never read"], length=str(1024**3))
    assert e.value.code == "TOO_LARGE" and not e.value.retryable


async def test_gzip_and_deflate_are_decoded() -> None:
    text = b"<p>the harbour</p>" * 500
    assert await read(gzip.compress(text), "gzip") == text
    assert await read(gzip.compress(text), "x-gzip") == text
    assert await read(gzip.compress(text[:100]) + gzip.compress(text[100:]), "gzip") == text  # two members
    assert await read(zlib.compress(text), "deflate") == text
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    assert await read(raw.compress(text) + raw.flush(), "deflate") == text  # raw deflate
    assert await read(text, "identity") == text


async def test_a_gzip_bomb_is_refused_within_the_cap_in_memory() -> None:
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = b"".join(c.compress(b"\0" * 1024 * 1024) for _ in range(64)) + c.flush()  # 64 MB in ~64 kB
    assert len(bomb) < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge, match="decompression bomb") as e:
            await read(pieces(bomb, 16 * 1024), "gzip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert e.value.code == "TOO_LARGE"
    assert peak < 4 * CAP + 256 * 1024, f"reading the bomb took {peak} bytes at its peak"


async def test_corrupt_truncated_and_unknown_encodings() -> None:
    with pytest.raises(BadEncoding, match="gzip data is corrupt"):
        await read(b"this is not gzip at all" * 10, "gzip")
    with pytest.raises(BadEncoding, match="Content-Encoding 'br'"):
        await read(b"whatever", "br")
    with pytest.raises(BadEncoding, match="only gzip or deflate"):
        await read(b"whatever", "gzip, gzip")
    assert BadEncoding("x").code == "BAD_ENCODING"
