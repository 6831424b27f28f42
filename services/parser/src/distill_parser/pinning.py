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
import time
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


class LeanPool(httpcore.AsyncConnectionPool):
    """httpcore's connection pool without its scan of every connection on every request.

    httpcore goes through every pooled connection each time a request comes or goes, asking
    each whether it has expired, which for an idle HTTP/1.1 connection is a poll() of its
    socket: with 64 connections to a host, 64 system calls per request and per response.
    Here a request takes the first available connection, checked (keep-alive time, and
    whether the server has closed it) when it is idle and about to be reused; the whole pool
    is tidied (closed ones dropped, expired and surplus idle ones closed) at most once every
    SWEEP seconds, and when it is full. Expired and server-closed connections are still never
    used. Surplus idle connections are counted as idle ones (httpcore counts all of them, so
    past `max_keepalive_connections` connections in use it closed each one that became idle).
    """

    SWEEP = 1.0
    _swept = 0.0

    def _tidy(self, closing: list[httpcore.AsyncConnectionInterface], *, expired: bool) -> None:
        idle = 0
        for connection in list(self._connections):
            if connection.is_closed():
                self._connections.remove(connection)
            elif connection.is_idle():
                if idle >= self._max_keepalive_connections or (expired and connection.has_expired()):
                    self._connections.remove(connection)
                    closing.append(connection)
                else:
                    idle += 1
            elif expired and connection.has_expired():
                self._connections.remove(connection)
                closing.append(connection)

    def _assign_requests_to_connections(self) -> list[httpcore.AsyncConnectionInterface]:
        closing: list[httpcore.AsyncConnectionInterface] = []
        now = time.monotonic()
        if now - self._swept >= self.SWEEP:
            self._swept = now
            self._tidy(closing, expired=True)
        for pool_request in [r for r in self._requests if r.connection is None]:  # the queued ones
            origin = pool_request.request.url.origin
            chosen = None
            for connection in list(self._connections):
                if connection.is_available() and connection.can_handle_request(origin):
                    if connection.is_idle() and connection.has_expired():  # about to be reused: still good?
                        self._connections.remove(connection)
                        closing.append(connection)
                        continue
                    chosen = connection
                    break
            if chosen is None:
                if len(self._connections) >= self._max_connections:
                    self._tidy(closing, expired=False)
                if len(self._connections) >= self._max_connections:
                    victim = next((c for c in self._connections if c.is_idle()), None)
                    if victim is None:
                        continue  # every connection is busy: the request waits
                    self._connections.remove(victim)
                    closing.append(victim)
                chosen = self.create_connection(origin)
                self._connections.append(chosen)
            pool_request.assign_to_connection(chosen)
        return closing


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with a connection pool on the pinned backend."""

    def __init__(self, guard: Guard, *, http2: bool, limits: httpx.Limits, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, http2=http2, limits=limits)
        assert hasattr(self, "_pool"), "httpx changed: the transport has no connection pool to replace"
        self.backend = PinnedBackend(guard)
        self._pool = LeanPool(
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
