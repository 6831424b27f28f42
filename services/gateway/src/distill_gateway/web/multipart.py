"""An incremental multipart/form-data parser (RFC 7578, RFC 2046 section 5.1), pure.

Fed the request body as it arrives, it gives back events: a part's start (its name,
file name and content type), pieces of its data, its end, the end of the body. It holds
at most one piece of the body (plus a delimiter's length) at a time, so a file of any
size passes through without being kept; what a caller does with the pieces (stream them
on, count them against limits) is up to it.

Why not Starlette's `Request.form()`: it needs python-multipart, and it spools every file
into a temporary file (1 MiB in memory, then on disk) and returns only once the whole
body has been read, with no limit on a file's or the body's size. Limits checked only at
the end would let a 10 GB upload fill the gateway's disk (on Kubernetes, /tmp is a
256 MiB emptyDir) before it is refused.

Part headers are read as browsers write them (HTML Living Standard, "multipart/form-data
encoding algorithm"): UTF-8, with `"`, CR and LF in names percent-encoded; `filename*`
(RFC 5987) is understood too. A header block over `max_header_bytes` is refused.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from distill_core.errors import InvalidInput

MAX_BOUNDARY = 70  # RFC 2046
_BOUNDARY_OK = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{1,70}$")
_BROWSER_ESCAPES = {"%22": '"', "%0D": "\r", "%0A": "\n", "%0d": "\r", "%0a": "\n"}


@dataclass(frozen=True)
class Part:
    """A part's headers: its form field name, its file name (None for a plain field), its type."""

    name: str
    filename: str | None
    content_type: str


@dataclass(frozen=True)
class Start:
    part: Part


@dataclass(frozen=True)
class Data:
    data: bytes


@dataclass(frozen=True)
class End:
    """The current part ended."""


@dataclass(frozen=True)
class Done:
    """The closing delimiter: the body is complete."""


Event = Start | Data | End | Done


class NotMultipart(InvalidInput):
    """The body is not multipart/form-data."""


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a `multipart/form-data; boundary=...` Content-Type; INVALID_ARGUMENT otherwise."""
    media, params = parse_header_value(content_type or "")
    if media != "multipart/form-data":
        said = repr(media) if media else "none"
        raise NotMultipart(f"the body must be multipart/form-data (a form with 'file' fields), not {said}")
    boundary = params.get("boundary", "")
    if not _BOUNDARY_OK.match(boundary) or boundary.endswith(" "):
        raise InvalidInput("the multipart/form-data Content-Type has no valid boundary parameter (RFC 2046)")
    return boundary.encode("ascii")


def parse_header_value(raw: str) -> tuple[str, dict[str, str]]:
    """`form-data; name="a"; filename="b.png"` -> ("form-data", {"name": "a", "filename": "b.png"})."""
    params: dict[str, str] = {}
    n = len(raw)
    end = raw.find(";")
    value = (raw if end < 0 else raw[:end]).strip().lower()
    i = n if end < 0 else end + 1
    while i < n:
        while i < n and raw[i] in " \t;":
            i += 1
        eq = raw.find("=", i)
        if eq < 0:
            break
        key = raw[i:eq].strip().lower()
        i = eq + 1
        if i < n and raw[i] == '"':
            i += 1
            out = []
            while i < n and raw[i] != '"':
                if raw[i] == "\\" and i + 1 < n and raw[i + 1] in '"\\':
                    i += 1
                out.append(raw[i])
                i += 1
            i += 1  # the closing quote
            val = "".join(out)
        else:
            semi = raw.find(";", i)
            val = (raw[i:] if semi < 0 else raw[i:semi]).strip()
            i = n if semi < 0 else semi
        if key:
            params[key] = val
    return value, params


def _unescape(value: str) -> str:
    """Undo the percent-encoding browsers apply to `"`, CR and LF in names."""
    return re.sub(r"%(22|0[dDaA])", lambda m: _BROWSER_ESCAPES[m.group(0)], value)


def _extended(value: str) -> str | None:
    """An RFC 5987 value (`UTF-8''na%C3%AFve.png`), or None when it cannot be read."""
    charset, sep, rest = value.partition("'")
    _, sep2, encoded = rest.partition("'")
    if not (sep and sep2) or charset.lower() not in ("utf-8", "iso-8859-1"):
        return None
    try:
        return urllib.parse.unquote(encoded, encoding=charset, errors="strict")
    except (UnicodeDecodeError, LookupError):
        return None


def parse_part_headers(block: bytes, index: int) -> Part:
    """A part's header block (lines without the blank line after them)."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        text = block.decode("latin-1")
    headers: dict[str, str] = {}
    for line in text.split("\r\n"):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise InvalidInput(f"part {index} of the form has a malformed header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    disposition, params = parse_header_value(headers.get("content-disposition", ""))
    if disposition != "form-data" or "name" not in params:
        raise InvalidInput(f'part {index} of the form has no Content-Disposition: form-data; name="..." header')
    filename: str | None = None
    if "filename*" in params:
        filename = _extended(params["filename*"])
    if filename is None and "filename" in params:
        filename = _unescape(params["filename"])
    kind = headers.get("content-type", "")
    return Part(name=_unescape(params["name"]), filename=filename, content_type=kind)


class MultipartParser:
    """feed(bytes) -> events, in order; close() once the body has ended."""

    def __init__(self, boundary: bytes, *, max_header_bytes: int = 16 * 1024) -> None:
        self.delimiter = b"\r\n--" + boundary
        self.max_header_bytes = max_header_bytes
        # The body's first delimiter has no CRLF before it: one is assumed, so that every
        # delimiter looks the same.
        self.buf = bytearray(b"\r\n")
        self.state = "preamble"
        self.parts = 0
        self.overhead = 0  # bytes that were not part data: delimiters, headers, preamble

    @property
    def done(self) -> bool:
        return self.state == "done"

    def feed(self, data: bytes) -> list[Event]:
        if self.state == "done":
            return []  # the epilogue: ignored
        self.buf += data
        events: list[Event] = []
        while self._step(events):
            pass
        return events

    def close(self) -> None:
        """The body has ended: INVALID_ARGUMENT unless the closing delimiter came."""
        if self.state != "done":
            raise InvalidInput(
                "the form data ended before its closing boundary: the upload was cut off or is malformed"
            )

    def _step(self, events: list[Event]) -> bool:
        """Consume what can be consumed of the buffer; False when more bytes are needed."""
        buf, d = self.buf, self.delimiter
        if self.state in ("preamble", "body"):
            at = buf.find(d)
            if at < 0:
                keep = len(d) - 1  # a delimiter may begin in the last bytes
                if len(buf) > keep:
                    if self.state == "body":
                        events.append(Data(bytes(buf[: len(buf) - keep])))
                    else:
                        self.overhead += len(buf) - keep
                    del buf[: len(buf) - keep]
                return False
            if self.state == "body":
                if at:
                    events.append(Data(bytes(buf[:at])))
                events.append(End())
            else:
                self.overhead += at
            del buf[: at + len(d)]
            self.overhead += len(d)
            self.state = "after-delimiter"
            return True
        if self.state == "after-delimiter":
            if len(buf) < 2:
                return False
            if buf[:2] == b"--":
                del buf[:]
                self.state = "done"
                events.append(Done())
                return False
            eol = buf.find(b"\r\n")
            if eol < 0:
                if len(buf) > 256:
                    raise InvalidInput("a multipart boundary line of the form is malformed")
                return False
            if buf[:eol].strip(b" \t"):
                raise InvalidInput("a multipart boundary line of the form is malformed")
            del buf[: eol + 2]
            self.overhead += eol + 2
            self.state = "headers"
            return True
        if self.state == "headers":
            if buf[:2] == b"\r\n":
                block_end, skip = 0, 2  # no headers at all
            else:
                block_end = buf.find(b"\r\n\r\n")
                skip = 4
                if block_end < 0:
                    if len(buf) > self.max_header_bytes:
                        raise InvalidInput(
                            f"the headers of part {self.parts} of the form are longer than "
                            f"{self.max_header_bytes} bytes"
                        )
                    return False
            if block_end > self.max_header_bytes:
                raise InvalidInput(
                    f"the headers of part {self.parts} of the form are longer than {self.max_header_bytes} bytes"
                )
            part = parse_part_headers(bytes(buf[:block_end]), self.parts)
            del buf[: block_end + skip]
            self.overhead += block_end + skip
            self.parts += 1
            self.state = "body"
            events.append(Start(part))
            return True
        return False
