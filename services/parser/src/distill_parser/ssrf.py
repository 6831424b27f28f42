"""SSRF guard: which addresses the parser may connect to.

The ranges are the shared ones (`distill_core.netguard`: loopback, private, link-local and
the cloud metadata address, CGNAT, multicast, unspecified, documentation and reserved,
IPv4 and IPv6, IPv4-mapped/6to4/Teredo forms judged by the IPv4 address they carry). A
deployment may allow every private range (`parser_allow_private_networks`) or only some
(`parser_allowed_networks`, e.g. an intranet wiki's 10.20.0.0/16).

`Guard.vet()` is what the fetcher calls on every hop, redirects included: it resolves the
host once and checks every address; the connection then goes to those very addresses
(`pinning.py`), so a DNS answer that changes between the check and the connect (DNS
rebinding) changes nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from distill_core.errors import PermanentError
from distill_core.netguard import IPAddress, Resolver, embedded_ipv4, is_public, literal_address, lookup

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
# Names for the special ranges, for error messages (which ranges are refused is netguard's list).
_NAMED = tuple(
    (ipaddress.ip_network(n), name)
    for n, name in (
        ("0.0.0.0/8", "a 'this network' address"),
        ("100.64.0.0/10", "a shared (CGNAT) address"),
        ("192.0.0.0/24", "an IETF protocol address"),
        ("192.0.2.0/24", "a documentation address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("2001:db8::/32", "a documentation address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("192.88.99.0/24", "a 6to4 relay address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("240.0.0.0/4", "a reserved address"),
        ("::/96", "an IPv4-compatible (deprecated) address"),
        ("64:ff9b::/96", "a NAT64 address"),
        ("64:ff9b:1::/48", "a NAT64 address"),
        ("100::/64", "a discard address"),
        ("2001::/23", "an IETF protocol address"),
        ("5f00::/16", "an SRv6 address"),
        ("fc00::/7", "a unique-local (private) address"),
        ("fec0::/10", "a site-local address"),
    )
)


class SsrfBlocked(PermanentError):
    """The address is not one the parser may fetch (loopback, private, link-local, ...)."""

    code = "SSRF_BLOCKED"


def kind_of(ip: IPAddress) -> str:
    """What sort of non-public address `ip` is, in words (for error messages)."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            return f"an IPv6 form of {inner}, {kind_of(inner)}"
    if ip in METADATA_ADDRESSES:
        return "the cloud metadata address"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    named = next((name for net, name in _NAMED if net.version == ip.version and ip in net), None)
    if named is not None:
        return named
    if ip.is_private:
        return "a private address"
    return "a public address" if is_public(ip) else "a reserved address"


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDR strings as networks; ValueError naming the one that is not a network."""
    out = []
    for v in values:
        v = v.strip()
        if not v:
            continue
        try:
            out.append(ipaddress.ip_network(v, strict=False))
        except ValueError:
            raise ValueError(f"{v!r} is not an IP network (expected CIDR such as 10.20.0.0/16 or fd00::/8)") from None
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Policy:
    """Which addresses may be fetched: public ones, plus what the deployment allows."""

    allow_private: bool = False  # every non-public range except the cloud metadata addresses
    allowed: tuple[IPNetwork, ...] = ()  # these ranges even when private networks are refused

    def permits(self, ip: IPAddress) -> bool:
        inner = embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
        if any(a.version == ip.version and ip in a for a in self.allowed) or (
            inner is not None and any(a.version == 4 and inner in a for a in self.allowed)
        ):
            return True
        if ip in METADATA_ADDRESSES or inner in METADATA_ADDRESSES:
            return False  # cloud credentials: only when listed in allowed networks, never by the private switch
        return self.allow_private or is_public(ip)

    def check(self, ip: IPAddress, host: str) -> None:
        if self.permits(ip):
            return
        where = host if literal_address(host) == ip else f"{host} resolves to {ip}, which"
        inner = embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
        if ip in METADATA_ADDRESSES or inner in METADATA_ADDRESSES:
            why = "the parser never fetches it unless DISTILL_PARSER_ALLOWED_NETWORKS lists it"
        else:
            why = (
                "the parser fetches only public addresses "
                "(DISTILL_PARSER_ALLOW_PRIVATE_NETWORKS or DISTILL_PARSER_ALLOWED_NETWORKS allow others)"
            )
        raise SsrfBlocked(f"{where} is {kind_of(ip)}: {why}", host=host, address=str(ip))


class Guard:
    """Resolves a host once and checks every address it has against the policy."""

    def __init__(self, policy: Policy, resolver: Resolver | None = None) -> None:
        self.policy = policy
        self.resolver = resolver

    async def vet(self, host: str, port: int) -> list[IPAddress]:
        """The host's addresses, all allowed, in the order to try them (SsrfBlocked otherwise)."""
        ips = await lookup(host, port, self.resolver)
        for ip in ips:
            self.policy.check(ip, host)
        return ips
