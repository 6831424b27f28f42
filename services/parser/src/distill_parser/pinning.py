"""Connecting to the address that was checked (no DNS rebinding), and the HTTP transports.

httpx would resolve a host again when it connects, so a DNS server that answers a public
address to the SSRF check and 127.0.0.1 a moment later could reach anything. Here the
connection pool's network backend dials the addresses the guard vetted for this hop
(`pinned()`), or vets the host itself when there is no pin; the URL, the Host header,
TLS SNI and certificate checks keep the host name.

A proxy from the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY) is the
operator's: requests through it go to the proxy unpinned (the target host is still
checked before each hop; the proxy resolves it).
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import ssl
import urllib.request
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

from distill_parser.ssrf import Guard

_PINS: contextvars.ContextVar[tuple[str, tuple[str, ...]] | None] = contextvars.ContextVar(
    "distill_parser_pin", default=None
)


@contextlib.contextmanager
def pinned(host: str, addresses: Iterable[object]) -> Iterator[None]:
    """Within this block, connections to `host` go to `addresses` (in order) and nowhere else."""
    token = _PINS.set((host, tuple(str(a) for a in addresses)))
    try:
        yield
    finally:
        _PINS.reset(token)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """A network backend that connects only to vetted addresses."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        pin = _PINS.get()
        if pin is not None and pin[0] == host:
            addresses: tuple[str, ...] = pin[1]
        else:
            addresses = tuple(str(a) for a in await self.guard.vet(host, port))
        last: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                last = e
        assert last is not None
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with a connection pool on the pinned backend."""

    def __init__(self, guard: Guard, *, http2: bool, limits: httpx.Limits, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, http2=http2, limits=limits)
        assert hasattr(self, "_pool"), "httpx changed: the transport has no connection pool to replace"
        self.backend = PinnedBackend(guard)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=http2,
            network_backend=self.backend,
        )


def proxy_mounts(
    *, http2: bool, limits: httpx.Limits, ssl_context: ssl.SSLContext
) -> dict[str, httpx.AsyncBaseTransport | None]:
    """httpx mounts for the proxies the environment names; NO_PROXY hosts map to None (the
    client's own, pinned transport)."""
    env = urllib.request.getproxies()
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    for scheme in ("http", "https", "all"):
        url = env.get(scheme)
        if url:
            url = url if "://" in url else f"http://{url}"
            mounts[f"{scheme}://"] = httpx.AsyncHTTPTransport(proxy=url, verify=ssl_context, http2=http2, limits=limits)
    if not mounts:
        return {}
    for host in (env.get("no") or "").split(","):
        host = host.strip()
        if host == "*":
            return {}
        if host:
            mounts[_no_proxy_pattern(host)] = None
    return mounts


def _no_proxy_pattern(host: str) -> str:
    bare = host.strip("[]")
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        return f"all://{host}" if host.lower() == "localhost" else f"all://*{host.lstrip('*.')}"
    return f"all://[{ip}]" if ip.version == 6 else f"all://{ip}"
