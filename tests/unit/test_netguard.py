"""The SSRF guard for user-supplied notification URLs."""

from __future__ import annotations

import ipaddress

import pytest
from distill_core import netguard
from distill_core.errors import InvalidInput


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "2002:7f00:1::",
        "ff02::1",
        "::",
    ],
)
def test_non_public_addresses_are_blocked(ip: str) -> None:
    assert not netguard.is_public(ipaddress.ip_address(ip))
    with pytest.raises(netguard.AddressBlocked, match="non-public"):
        netguard.check_address(ipaddress.ip_address(ip), "h", allow_private=False)
    netguard.check_address(ipaddress.ip_address(ip), "h", allow_private=True)


@pytest.mark.parametrize("ip", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(ip: str) -> None:
    assert netguard.is_public(ipaddress.ip_address(ip))


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "is required"),
        ("ftp://example.com/", "http or https"),
        ("https:///path", "no host"),
        ("https://user:pw@example.com/", "user name or password"),
        ("https://example.com/#frag", "fragment"),
        ("http://127.0.0.1:8080/hook", "non-public"),
        ("http://localhost/hook", "non-public"),
        ("http://[::1]/hook", "non-public"),
        ("https://example.com:99999/", "not a valid URL"),
        ("https://example.com/" + "a" * 3000, "longer than"),
    ],
)
def test_check_url_says_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says) as e:
        netguard.check_url(url, field="url")
    assert e.value.message.startswith("url")


def test_check_url_parts_and_origin() -> None:
    t = netguard.check_url("https://Push.Example.com/send/abc?x=1")
    assert (t.scheme, t.host, t.port, t.origin) == ("https", "push.example.com", 443, "https://push.example.com")
    assert netguard.check_url("http://127.0.0.1:8080/x", allow_private=True).origin == "http://127.0.0.1:8080"


def test_private_switch_falls_back_to_the_parser_one() -> None:
    assert netguard.allow_private_networks(None, True) is True
    assert netguard.allow_private_networks(False, True) is False
    assert netguard.allow_private_networks(True, False) is True


async def test_resolve_checks_every_address() -> None:
    t = netguard.check_url("http://localhost:9/x", allow_private=True)
    assert (await netguard.resolve(t, True)).address in ("127.0.0.1", "::1")
    with pytest.raises(netguard.AddressBlocked):
        await netguard.resolve(t, False)
