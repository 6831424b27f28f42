"""The HTTP side's application (API, dashboard files, headers) and its uvicorn server,
run in the gateway's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import uvicorn
from distill_core.grpc_server import MAX_MESSAGE_BYTES
from distill_core.logging import get_logger
from distill_core.settings import GatewaySettings
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from distill_gateway import limits
from distill_gateway.web import problems
from distill_gateway.web.routes import Api, problem_response

log = get_logger(__name__)

STATIC = Path(__file__).resolve().parent / "static"

# Everything the page loads comes from here; no inline script or style, so an injected
# <script> (a hostile page title, say) cannot run. The key lives in localStorage.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
# The dashboard's files: always revalidated (ETag), so a new gateway version is picked up at once.
REVALIDATE = {"Cache-Control": "no-cache"}


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response (a plain ASGI middleware: streams stay streams)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in SECURITY_HEADERS if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, with_headers)


def _file(name: str, media_type: str | None = None) -> Route:
    async def endpoint(request: Request) -> Response:
        return FileResponse(STATIC / name, media_type=media_type, headers=REVALIDATE)

    return Route("/" + ("" if name == "index.html" else name), endpoint, methods=["GET", "HEAD"])


class Static(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(REVALIDATE)
        return response


def build_app(
    pipeline: Any, notifications: Any, closing: asyncio.Event, max_body_bytes: int = MAX_MESSAGE_BYTES
) -> Starlette:
    """max_body_bytes: request bodies over it are refused unread (the servicers check the
    request's own size against DISTILL_MAX_REQUEST_BYTES, naming the setting)."""
    api = Api(pipeline, notifications, closing, max_body_bytes)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if not request.url.path.startswith("/v1/"):
            return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
        code = problems.CODE_OF_HTTP.get(exc.status_code, grpc.StatusCode.UNKNOWN)
        detail = f"no such resource: {request.method} {request.url.path}" if exc.status_code == 404 else exc.detail
        return problem_response(code, detail, request.url.path, status=exc.status_code)

    async def crash(request: Request, exc: Exception) -> Response:
        log.error("unexpected error in an HTTP request", path=request.url.path, exc_info=exc)
        return problem_response(grpc.StatusCode.INTERNAL, "internal error (logged on the server)", request.url.path)

    routes = [
        _file("index.html"),
        _file("sw.js", "text/javascript"),
        _file("manifest.webmanifest", "application/manifest+json"),
        Route("/healthz", healthz, methods=["GET"]),
        *api.routes(),
        Mount("/static", Static(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: crash})
    app.add_middleware(SecurityHeaders)
    return app


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """The gateway process owns SIGTERM/SIGINT (distill_core.service); uvicorn must not."""
        yield


class HttpServer:
    """uvicorn serving `app` on host:port (0 picks a free port) inside the running loop;
    HTTPS when given a certificate, requiring client certificates when given a CA."""

    def __init__(
        self,
        app: Starlette,
        host: str,
        port: int,
        closing: asyncio.Event,
        *,
        grace: float = 3.0,
        cert_file: Path | None = None,
        key_file: Path | None = None,
        client_ca_file: Path | None = None,
    ) -> None:
        self.closing = closing
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            self.sock = socket.create_server((host, port), family=family, backlog=512)
        except OSError as e:
            raise OSError(f"the HTTP side cannot listen on {host}:{port} (DISTILL_HTTP_PORT): {e.strerror or e}") from e
        self.host = host
        self.port = int(self.sock.getsockname()[1])
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="off",
            ws="none",
            server_header=False,
            proxy_headers=False,
            timeout_graceful_shutdown=grace,
            timeout_keep_alive=20,
            ssl_certfile=cert_file,
            ssl_keyfile=key_file,
            ssl_ca_certs=client_ca_file,
            ssl_cert_reqs=ssl.CERT_REQUIRED if client_ca_file else ssl.CERT_NONE,
        )
        self.tls = cert_file is not None
        self.server = _Server(config)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        for name in ("uvicorn", "uvicorn.error"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        while not self.server.started:
            if self.task.done():
                self.task.result()  # raises what went wrong
                raise OSError(f"the HTTP side did not start on {self.host}:{self.port}")
            await asyncio.sleep(0.01)
        log.info("http serving", http=f"{self.host}:{self.port}", tls=self.tls)

    async def stop(self) -> None:
        """End the event streams, finish requests in flight, close."""
        self.closing.set()
        self.server.should_exit = True
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


async def start_http(settings: GatewaySettings, pipeline: Any, notifications: Any) -> HttpServer | None:
    """The HTTP side, when DISTILL_HTTP_PORT is set (else None), with the gRPC port's TLS settings."""
    if not settings.http_port:
        return None
    closing = asyncio.Event()
    app = build_app(pipeline, notifications, closing, limits.grpc_receive_limit(settings))
    server = HttpServer(
        app,
        settings.grpc_host,
        settings.http_port,
        closing,
        cert_file=settings.tls_cert_file,
        key_file=settings.tls_key_file,
        client_ca_file=settings.tls_client_ca_file,
    )
    await server.start()
    return server
