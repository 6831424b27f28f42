"""A local web site that misbehaves in the ways real ones do, for the parser's tests.

    site = HostileSite()                  # 127.0.0.1, a free port; HostileSite("127.0.0.2", port=p) too
    site.url("/trickle")                  # http://127.0.0.1:PORT/trickle
    site.hits["/flaky/a"]                 # requests per path (query included); site.headers[path] the last ones
    site.redirect_to["/go"] = "http://169.254.169.254/latest/meta-data/"

Routes (anything else is 404):
    /page/<name>        a small HTML article (title and text name it)
    /trickle            200, Content-Length 10 000, then one byte a second
    /huge               1 GB of HTML, chunked (no Content-Length); /huge-declared says so in Content-Length
    /gzipped            a page sent with Content-Encoding: gzip
    /bomb               gzip that inflates to 200 MB of zeros (about 200 kB on the wire)
    /loop, /loop-a      redirects to itself / a -> b -> a
    /chain/<n>          n redirects, then a page
    /go                 a redirect to `redirect_to["/go"]` (and /go2, /go3 likewise)
    /cp1251             a Russian article in windows-1251, Content-Type text/html without charset, no <meta>
    /binary.html        random bytes served as text/html
    /empty              200, nothing
    /flaky/<key>        500 the first time for each key, then a page
    /limited/<key>      429 with Retry-After: 1 the first time for each key, then a page
    /always-503         503 with Retry-After: 1, every time
    /status/<code>      that status, a short body
    /file/<name>        bytes from `files[name]` with `types[name]` (an uploaded corpus page, say)
"""

from __future__ import annotations

import functools
import gzip
import random
import threading
import time
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RUSSIAN = (
    "Зимние штормы и маленькие гавани. Рыбаки северного побережья перестроили волноломы "
    "до прихода осенних бурь. Сорок две семьи теперь арендуют участки у старого маяка, "
    "а местная школа ведёт наблюдения за приливами каждый день. "
)


@functools.cache
def gzip_bomb(megabytes: int = 200) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1024 * 1024)
    return b"".join(c.compress(block) for _ in range(megabytes)) + c.flush()


def article(name: str) -> bytes:
    paras = "".join(
        f"<p>Paragraph {i} of the page {name}: the harbour master moved forty boats to the inner basin "
        f"before the storm, and the villagers checked every mooring line twice.</p>"
        for i in range(6)
    )
    return (
        f"<!doctype html><html lang='en'><head><title>Page {name}</title></head>"
        f"<body><article><h1>Page {name}</h1>{paras}</article></body></html>"
    ).encode()


class HostileSite:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.hits: Counter[str] = Counter()
        self.headers: dict[str, dict[str, str]] = {}  # the last request's headers per path
        self.redirect_to: dict[str, str] = {}
        self.files: dict[str, bytes] = {}
        self.types: dict[str, str] = {}
        self.sent: Counter[str] = Counter()  # body bytes written per path
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with site._lock:
                    site.hits[self.path] += 1
                    site.headers[self.path] = {k.lower(): v for k, v in self.headers.items()}
                    n = site.hits[self.path]
                try:
                    site._route(self, n)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign]  # resets are the point
        self.host, self.port = host, self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- routes -------------------------------------------------------------------------

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str = "text/html; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:  # fmt: skip
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)
        self.sent[h.path] += len(body)

    def _redirect(self, h: BaseHTTPRequestHandler, to: str) -> None:
        h.send_response(302)
        h.send_header("Location", to)
        h.send_header("Content-Length", "0")
        h.end_headers()

    def _route(self, h: BaseHTTPRequestHandler, n: int) -> None:
        p = h.path
        if p.startswith("/page/"):
            return self._send(h, 200, article(p.removeprefix("/page/")))
        if p == "/trickle":
            h.send_response(200)
            h.send_header("Content-Type", "text/html")
            h.send_header("Content-Length", "10000")
            h.end_headers()
            for _ in range(10000):
                h.wfile.write(b"<")
                h.wfile.flush()
                self.sent[p] += 1
                time.sleep(1.0)
            return None
        if p in ("/huge", "/huge-declared"):
            return self._huge(h, declared=p == "/huge-declared")
        if p == "/gzipped":
            return self._send(h, 200, gzip.compress(article("gzipped")), headers={"Content-Encoding": "gzip"})
        if p == "/bomb":
            body = gzip_bomb()
            return self._send(h, 200, body, headers={"Content-Encoding": "gzip"})
        if p == "/loop":
            return self._redirect(h, "/loop")
        if p in ("/loop-a", "/loop-b"):
            return self._redirect(h, "/loop-b" if p == "/loop-a" else "/loop-a")
        if p.startswith("/chain/"):
            left = int(p.rsplit("/", 1)[1])
            return self._redirect(h, f"/chain/{left - 1}") if left > 0 else self._send(h, 200, article("chain-end"))
        if p in self.redirect_to:
            return self._redirect(h, self.redirect_to[p])
        if p == "/cp1251":
            page = (
                f"<html><head><title>Штормы</title></head><body><article><p>{RUSSIAN * 4}</p></article></body></html>"
            )
            return self._send(h, 200, page.encode("cp1251"), ctype="text/html")
        if p == "/binary.html":
            return self._send(h, 200, random.Random(7).randbytes(50_000), ctype="text/html")
        if p == "/empty":
            return self._send(h, 200, b"")
        if p.startswith("/flaky/"):
            return self._send(h, 500, b"oops") if n == 1 else self._send(h, 200, article(p))
        if p.startswith("/limited/"):
            if n == 1:
                return self._send(h, 429, b"slow down", headers={"Retry-After": "1"})
            return self._send(h, 200, article(p))
        if p == "/always-503":
            return self._send(h, 503, b"maintenance", headers={"Retry-After": "1"})
        if p.startswith("/status/"):
            return self._send(h, int(p.rsplit("/", 1)[1]), b"status page")
        if p.startswith("/file/"):
            name = p.removeprefix("/file/")
            if name in self.files:
                return self._send(h, 200, self.files[name], ctype=self.types.get(name, "text/html; charset=utf-8"))
        return self._send(h, 404, b"not here")

    def _huge(self, h: BaseHTTPRequestHandler, *, declared: bool) -> None:
        total = 1024**3
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        if declared:
            h.send_header("Content-Length", str(total))
        else:
            h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        chunk = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>"
        sent = 0
        while sent < total:
            data = chunk if declared else b"%x\r\n%s\r\n" % (len(chunk), chunk)
            h.wfile.write(data)
            sent += len(chunk)
            self.sent[h.path] += len(chunk)
        if not declared:
            h.wfile.write(b"0\r\n\r\n")
