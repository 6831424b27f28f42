"""An extraction worker process: `python -m distill_parser.extract_worker` (started by extract_pool.py).

Once it has imported the extractors and read a first page of its own, it writes 4 zero
bytes (ready). Then it reads requests from stdin and writes answers to stdout, each a
frame: 4 bytes of length (big-endian), then a pickle. A request is (body, content_type, url, charset); the answer,
in the same order, is ("ok", the Extracted's fields), ("error", a DistillError as plain data,
see extract_pool.error_from) or ("raise", any other exception). Anything else the extractors
print goes to stderr, never between the frames. It exits at the end of stdin, and when the
parser that started it is gone (SIGKILL included).

Only what reading a page needs is imported here (the extractors, not the parser's runner,
HTTP client or OCR engines).
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time
from typing import Any, BinaryIO

from distill_core.errors import DistillError

from distill_parser.extract import extract
from distill_parser.extract_pool import HEADER

WARM_UP = (
    b"<!doctype html><html lang=en><head><title>Warming up</title></head><body><article><h1>Warming up</h1>"
    + b"<p>A page that loads the extractor before the first real one arrives, with a few sentences "
    + b"of ordinary text in it, so that every step of reading an article is imported and ready.</p>" * 4
    + b"</article></body></html>"
)


def answer(request: tuple[bytes, str, str, str | None]) -> tuple[str, Any]:
    """What the parser gets back for one request."""
    try:
        return "ok", extract(*request).__dict__
    except DistillError as e:
        cls = type(e)
        return "error", (
            cls.__module__,
            cls.__qualname__,
            e.message,
            e.code,
            e.details,
            getattr(e, "retry_after", None),
        )
    except Exception as e:
        return "raise", e


def _watch_parent(parent: int) -> None:
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    while True:
        head = inp.read(HEADER.size)
        if len(head) < HEADER.size:
            return  # the parser closed our stdin: done
        (n,) = HEADER.unpack(head)
        payload = inp.read(n)
        if len(payload) < n:
            return
        kind, value = answer(pickle.loads(payload))
        try:
            data = pickle.dumps((kind, value), pickle.HIGHEST_PROTOCOL)
        except Exception as e:  # an exception that does not pickle: its description does
            data = pickle.dumps(("raise", RuntimeError(f"{type(e).__name__}: {value!r}"[:2000])))
        out.write(HEADER.pack(len(data)) + data)
        out.flush()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the process group: the parser ends us
    _watch_parent(os.getppid())
    out = os.fdopen(os.dup(1), "wb")  # the frames' own descriptor ...
    os.dup2(2, 1)  # ... and stray prints to stderr
    sys.stdout = sys.stderr
    extract(WARM_UP, "text/html", "https://warm.up/")  # imports now, not on the first page
    out.write(HEADER.pack(0))  # ready
    out.flush()
    serve(os.fdopen(0, "rb"), out)


if __name__ == "__main__":
    main()
