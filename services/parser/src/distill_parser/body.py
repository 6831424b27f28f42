"""Reading a response body within a byte cap: streamed, decompressed by us in bounded steps.

httpx's own decoders inflate each network chunk whole, so 64 kB of gzip could become
64 MB before any limit is looked at. Here the raw bytes and the decoded bytes both stop
at the cap, and zlib never produces more than what is still allowed: a decompression
bomb costs at most the cap in memory.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable

from distill_core.errors import PermanentError

#: What we ask for (Accept-Encoding) and can decode; anything else is refused.
ACCEPT_ENCODING = "gzip, deflate"


class TooLarge(PermanentError):
    """The response is larger than the parser's byte limit."""

    code = "TOO_LARGE"


class BadEncoding(PermanentError):
    """The response's Content-Encoding is unknown or its compressed data is corrupt."""

    code = "BAD_ENCODING"


class _Passthrough:
    def feed(self, data: bytes, limit: int) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


class _Inflate:
    """gzip (several members too) or deflate (zlib-wrapped or raw), at most `limit` bytes a step."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
        self.d = zlib.decompressobj(self.wbits)
        self.started = False

    def feed(self, data: bytes, limit: int) -> bytes:
        try:
            out = self.d.decompress(data, limit)
        except zlib.error:
            if self.encoding == "deflate" and not self.started:  # raw deflate, as some servers send
                self.wbits = -zlib.MAX_WBITS
                self.d = zlib.decompressobj(self.wbits)
                return self.feed(data, limit)
            raise BadEncoding(f"the response's {self.encoding} data is corrupt") from None
        self.started = True
        while len(out) < limit and self.d.eof and self.d.unused_data:  # the next gzip member
            rest = self.d.unused_data
            self.d = zlib.decompressobj(self.wbits)
            out += self.feed(rest, limit - len(out))
        return out

    def flush(self) -> bytes:
        try:
            return self.d.flush()
        except zlib.error:
            raise BadEncoding(f"the response's {self.encoding} data is truncated") from None


def decoder_for(content_encoding: str | None) -> _Passthrough | _Inflate:
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return _Passthrough()
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip", "deflate"):
        return _Inflate("gzip" if codings[0] == "x-gzip" else codings[0])
    raise BadEncoding(
        f"the response uses Content-Encoding {content_encoding!r}; the parser reads only gzip or deflate",
        content_encoding=content_encoding,
    )


async def read_capped(
    raw: AsyncIterable[bytes], cap: int, *, content_encoding: str | None, content_length: str | None
) -> bytes:
    """The decoded body, or TooLarge as soon as it (raw or decoded) passes `cap` bytes."""
    if content_length and content_length.strip().isdigit() and int(content_length) > cap:
        raise TooLarge(f"the page is {int(content_length)} bytes; the limit is {cap}", size=content_length)
    decoder = decoder_for(content_encoding)
    encoded = not isinstance(decoder, _Passthrough)
    chunks: list[bytes] = []
    raw_size = size = 0
    async for chunk in raw:
        raw_size += len(chunk)
        if raw_size > cap:
            raise TooLarge(f"the page is larger than the limit of {cap} bytes")
        data = decoder.feed(chunk, cap - size + 1)
        size += len(data)
        if size > cap:
            raise TooLarge(
                f"the page decompresses to more than the limit of {cap} bytes "
                f"(from {raw_size} bytes of {content_encoding}: refused as a decompression bomb)"
                if encoded
                else f"the page is larger than the limit of {cap} bytes",
                compressed_bytes=raw_size if encoded else None,
            )
        if data:
            chunks.append(data)
    tail = decoder.flush()
    if size + len(tail) > cap:
        raise TooLarge(f"the page decompresses to more than the limit of {cap} bytes")
    chunks.append(tail)
    return b"".join(chunks)
