"""Which network addresses a user-supplied URL may reach (the SSRF guard for webhooks and push).

Webhook and Web Push endpoints are URLs our users type in; without a guard they could
point the notifier at the metadata service, the database or anything else on the
cluster network. The rule is the parser's (DESIGN.md section 7): only globally
routable unicast addresses, IPv4 and IPv6, unless the deployment allows private
networks explicitly. `check_url` is the syntax part (used when a destination is
created); `resolve` looks the host up and checks every address (used before each
request, whose connection then goes to the checked address: no DNS rebinding).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from distill_core.errors import ConnectionFailure, InvalidInput, PermanentError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048

# Special-purpose ranges (IANA registries) that are never reached unless private networks are allowed.
BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        # IPv4: "this" network, private, shared (CGNAT), loopback, link-local (cloud metadata),
        # IETF protocol assignments, documentation, 6to4 relay, benchmarking, multicast, reserved.
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        # IPv6: unspecified, loopback and the deprecated IPv4-compatible ::a.b.c.d, NAT64, discard,
        # IETF/TEREDO/ORCHID, documentation, SRv6 SIDs, unique-local, link-local, site-local, multicast.
        "::/96",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "5f00::/16",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)


class AddressBlocked(PermanentError):
    """The destination resolves to an address the notifier may not reach (loopback, private, ...)."""

    code = "SSRF_BLOCKED"


def allow_private_networks(notifier: bool | None, parser: bool) -> bool:
    """DISTILL_NOTIFIER_ALLOW_PRIVATE_NETWORKS when set, else DISTILL_PARSER_ALLOW_PRIVATE_NETWORKS
    (which `distill up --allow-private-networks` sets): one switch for development stacks."""
    return parser if notifier is None else notifier


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (v4-mapped, 6to4, Teredo client), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def is_public(ip: IPAddress) -> bool:
    """True when `ip` is a globally routable unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            return is_public(inner)
    return not any(ip.version == net.version and ip in net for net in BLOCKED_NETWORKS)


def check_address(ip: IPAddress, host: str, allow_private: bool) -> None:
    if not allow_private and not is_public(ip):
        raise AddressBlocked(
            f"{host} resolves to {ip}, a non-public address; notifications may only go to public addresses "
            "(DISTILL_NOTIFIER_ALLOW_PRIVATE_NETWORKS allows private ones)",
            host=host,
            address=str(ip),
        )


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: its parts and, once resolved, the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str = ""

    @property
    def origin(self) -> str:
        """scheme://host[:port] (the VAPID `aud` claim)."""
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + ("" if self.port == default else f":{self.port}")


def check_url(url: str, *, field: str = "url", allow_private: bool = False) -> Target:
    """The URL's parts, or InvalidInput saying what is wrong with it.

    A literal address (or `localhost`) is checked here already; a name is checked when
    it is resolved, before each request.
    """
    url = url.strip()
    if not url:
        raise InvalidInput(f"{field} is required")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"{field} is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise InvalidInput(f"{field} is not a valid URL ({e})") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput(f"{field} must be an http or https URL (got {parts.scheme or 'no'} scheme)")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise InvalidInput(f"{field} has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(f"{field} must not carry a user name or password (user:password@host)")
    if parts.fragment:
        raise InvalidInput(f"{field} must not have a #fragment")
    target = Target(url, parts.scheme, host, port or (443 if parts.scheme == "https" else 80))
    literal = literal_address(host)
    try:
        if literal is not None:
            check_address(literal, host, allow_private)
        elif host == "localhost" or host.endswith(".localhost"):
            check_address(ipaddress.ip_address("127.0.0.1"), host, allow_private)
    except AddressBlocked as e:
        raise InvalidInput(f"{field}: {e.message}") from None
    return target


def literal_address(host: str) -> IPAddress | None:
    """The address a host names without DNS: IPv4 and IPv6 literals, and also the other IPv4
    forms the resolver reads as addresses (2130706433, 0x7f000001, 0177.0.0.1, 127.1)."""
    h = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(h.split("%")[0])
    except ValueError:
        pass
    if h and all(c in "0123456789abcdefABCDEFxX." for c in h):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(h))
        except OSError:
            return None
    return None


_literal = literal_address

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses from the system resolver (getaddrinfo), as strings."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(i[4][0]) for i in infos]


async def lookup(host: str, port: int, resolver: Resolver | None = None) -> list[IPAddress]:
    """Every address `host` stands for: the literal itself, or what DNS answers (in its order,
    without duplicates). A name that does not exist is DNS_NOT_FOUND (permanent); a resolver
    that fails otherwise is DNS_ERROR (retryable)."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    try:
        answers = await (resolver or system_resolver)(host, port)
    except socket.gaierror as e:
        if e.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
            raise PermanentError(f"the host {host} does not exist (DNS)", code="DNS_NOT_FOUND", host=host) from None
        raise ConnectionFailure(f"DNS lookup of {host} failed: {e}", code="DNS_ERROR", host=host) from None
    except UnicodeError:
        raise PermanentError(f"the host name {host!r} is not valid", code="DNS_NOT_FOUND", host=host) from None
    ips: list[IPAddress] = []
    for a in answers:
        ip = ipaddress.ip_address(a.split("%")[0])
        if ip not in ips:
            ips.append(ip)
    if not ips:
        raise ConnectionFailure(f"{host} has no address", code="DNS_ERROR", host=host)
    return ips


async def resolve(target: Target, allow_private: bool) -> Target:
    """The target with the address to connect to: every address the name has must be allowed."""
    ips = await lookup(target.host, target.port)
    for ip in ips:
        check_address(ip, target.host, allow_private)
    return Target(target.url, target.scheme, target.host, target.port, str(ips[0]))
