"""SSRF guard: which addresses the parser may connect to (pure functions)."""

from __future__ import annotations

import ipaddress

from distill_core.errors import PermanentError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ranges never fetched unless the deployment allows private networks.
_BLOCKED_V4 = [
    ipaddress.ip_network(n)
    for n in (
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
        "255.255.255.255/32",
    )
]
_BLOCKED_V6 = [
    ipaddress.ip_network(n)
    for n in (
        "::/128",
        "::1/128",
        "::ffff:0:0/96",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "2002::/16",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
]


class SsrfBlocked(PermanentError):
    """The address is not one the parser may fetch (loopback, private, link-local, ...)."""

    code = "SSRF_BLOCKED"


def is_public(ip: IPAddress) -> bool:
    """True when `ip` is a globally routable unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return is_public(mapped)
        if ip.teredo:
            return is_public(ip.teredo[1])
        return not any(ip in n for n in _BLOCKED_V6)
    return not any(ip in n for n in _BLOCKED_V4)


def check_address(ip: IPAddress, host: str, allow_private: bool) -> None:
    if not allow_private and not is_public(ip):
        raise SsrfBlocked(
            f"{host} resolves to {ip}, a non-public address; fetching it is not allowed", host=host, address=str(ip)
        )
