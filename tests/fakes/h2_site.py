"""A local HTTPS site that speaks HTTP/2 when the client offers it (ALPN), else HTTP/1.1.

    site = H2Site(cert_file, key_file)      # 127.0.0.1, a free port
    site.url("/page")                       # https://127.0.0.1:PORT/page (use a name the certificate holds)
    site.requests                           # [(protocol, method, path, host/authority, SNI)]

Every GET answers a small HTML page naming the protocol it came over.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from pathlib import Path

import h2.config
import h2.connection
import h2.events


def _page(proto: str, path: str) -> bytes:
    return (
        f"<html><head><title>Served over {proto}</title></head><body><article>"
        f"<p>This page ({path}) came over {proto}. The harbour master moved forty boats to the inner "
        f"basin before the storm, and every mooring line was checked twice by the crews.</p>"
        f"</article></body></html>"
    ).encode()


class H2Site:
    def __init__(self, cert_file: Path, key_file: Path, host: str = "127.0.0.1") -> None:
        self.requests: list[tuple[str, str, str, str, str | None]] = []
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ctx.load_cert_chain(str(cert_file), str(key_file))
        self.ctx.set_alpn_protocols(["h2", "http/1.1"])
        self._sni: dict[int, str | None] = {}
        self.ctx.sni_callback = self._remember_sni
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.port = 0

        async def start() -> None:
            self.server = await asyncio.start_server(self._serve, host, 0, ssl=self.ctx)
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()

        self.thread = threading.Thread(target=lambda: (self.loop.run_until_complete(start()), self.loop.run_forever()))
        self.thread.daemon = True
        self.thread.start()
        ready.wait(10)

    def _remember_sni(self, sslobj: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        self._sni[id(sslobj)] = name

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}{path}"

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sslobj = writer.get_extra_info("ssl_object")
        sni = self._sni.get(id(sslobj))
        try:
            if sslobj is not None and sslobj.selected_alpn_protocol() == "h2":
                await self._h2(reader, writer, sni)
            else:
                await self._h1(reader, writer, sni)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def _h1(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sni: str | None) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            line, *fields = head.decode("latin-1").split("\r\n")
            method, path, _ = line.split(" ", 2)
            headers = {k.lower(): v.strip() for k, _, v in (f.partition(":") for f in fields if f)}
            self.requests.append(("HTTP/1.1", method, path, headers.get("host", ""), sni))
            body = _page("HTTP/1.1", path)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s"
                % (len(body), body)
            )
            await writer.drain()

    async def _h2(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sni: str | None) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        while True:
            data = await reader.read(65536)
            if not data:
                return
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    h = dict(event.headers)
                    path = h.get(":path", "/")
                    self.requests.append(("HTTP/2", h.get(":method", ""), path, h.get(":authority", ""), sni))
                    body = _page("HTTP/2", path)
                    conn.send_headers(
                        event.stream_id,
                        [(":status", "200"), ("content-type", "text/html; charset=utf-8"),
                         ("content-length", str(len(body)))],
                    )  # fmt: skip
                    conn.send_data(event.stream_id, body, end_stream=True)
            writer.write(conn.data_to_send())
            await writer.drain()
