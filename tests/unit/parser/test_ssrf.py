"""The parser's SSRF guard: every refused range, every spelling of an address, allowed networks."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from distill_core.netguard import literal_address
from distill_parser.ssrf import Guard, Policy, SsrfBlocked, parse_networks

REFUSED = [
    ("0.0.0.0", "the unspecified address"),
    ("0.1.2.3", "a 'this network' address"),
    ("10.1.2.3", "a private address"),
    ("100.64.0.1", "a shared (CGNAT) address"),
    ("100.127.255.254", "a shared (CGNAT) address"),
    ("127.0.0.1", "a loopback address"),
    ("127.255.0.9", "a loopback address"),
    ("169.254.1.1", "a link-local address"),
    ("169.254.169.254", "the cloud metadata address"),
    ("172.16.0.1", "a private address"),
    ("172.31.255.255", "a private address"),
    ("192.0.0.8", "an IETF protocol address"),
    ("192.0.2.10", "a documentation address"),
    ("192.88.99.1", "a 6to4 relay address"),
    ("192.168.0.1", "a private address"),
    ("198.18.0.1", "a benchmarking address"),
    ("198.51.100.7", "a documentation address"),
    ("203.0.113.9", "a documentation address"),
    ("224.0.0.1", "a multicast address"),
    ("239.255.255.250", "a multicast address"),
    ("240.0.0.1", "a reserved address"),
    ("255.255.255.255", "the broadcast address"),
    ("::", "the unspecified address"),
    ("::1", "a loopback address"),
    ("::127.0.0.1", "an IPv4-compatible (deprecated) address"),  # deprecated IPv4-compatible form
    ("::ffff:127.0.0.1", "an IPv6 form of 127.0.0.1, a loopback address"),
    ("::ffff:169.254.169.254", "an IPv6 form of 169.254.169.254, the cloud metadata address"),
    ("::ffff:10.0.0.1", "an IPv6 form of 10.0.0.1, a private address"),
    ("2002:7f00:1::", "an IPv6 form of 127.0.0.1, a loopback address"),  # 6to4
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "an IPv6 form of 127.0.0.1"),  # Teredo of 127.0.0.1
    ("64:ff9b::7f00:1", "a NAT64 address"),  # NAT64
    ("100::1", "a discard address"),
    ("2001:db8::1", "a documentation address"),
    ("5f00::1", "an SRv6 address"),
    ("fc00::1", "a unique-local (private) address"),
    ("fd00::1", "a unique-local (private) address"),
    ("fd00:ec2::254", "the cloud metadata address"),
    ("fe80::1", "a link-local address"),
    ("fec0::1", "a site-local address"),
    ("ff02::1", "a multicast address"),
]


@pytest.mark.parametrize(("ip", "kind"), REFUSED)
def test_every_non_public_range_is_refused_and_named(ip: str, kind: str) -> None:
    addr = ipaddress.ip_address(ip)
    assert not Policy().permits(addr)
    with pytest.raises(SsrfBlocked) as e:
        Policy().check(addr, ip)
    assert e.value.code == "SSRF_BLOCKED" and not e.value.retryable
    assert e.value.message.startswith(f"{ip} is {kind}")
    assert e.value.details == {"host": ip, "address": str(addr)}


@pytest.mark.parametrize("ip", ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8", "3fff::7"])
def test_public_addresses_pass(ip: str) -> None:
    Policy().check(ipaddress.ip_address(ip), ip)


@pytest.mark.parametrize(
    ("spelling", "address"),
    [
        ("2130706433", "127.0.0.1"),  # decimal
        ("0x7f000001", "127.0.0.1"),  # hex
        ("0177.0.0.1", "127.0.0.1"),  # octal
        ("0x7f.1", "127.0.0.1"),  # mixed
        ("127.1", "127.0.0.1"),  # short form
        ("017700000001", "127.0.0.1"),  # octal, whole
        ("2852039166", "169.254.169.254"),  # the metadata address in decimal
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
        ("[::ffff:7f00:1]", "::ffff:7f00:1"),
        ("127.0.0.1.", "127.0.0.1"),
    ],
)
def test_numeric_spellings_are_addresses_before_any_dns(spelling: str, address: str) -> None:
    ip = literal_address(spelling)
    assert ip == ipaddress.ip_address(address)
    assert not Policy().permits(ip)


@pytest.mark.parametrize("name", ["example.com", "0x7f000001.example", "127.0.0.1.nip.io", "deadbeef"])
def test_names_are_not_mistaken_for_addresses(name: str) -> None:
    # "deadbeef" is all hex digits but not an IPv4 spelling the resolver reads as one
    assert literal_address(name) is None


def test_private_switch_allows_private_ranges_but_never_the_metadata_address() -> None:
    p = Policy(allow_private=True)
    for ip in ("127.0.0.1", "10.0.0.1", "::1", "fd00::1", "192.168.1.1"):
        assert p.permits(ipaddress.ip_address(ip))
    for ip in ("169.254.169.254", "::ffff:169.254.169.254", "fd00:ec2::254"):
        assert not p.permits(ipaddress.ip_address(ip))
        with pytest.raises(SsrfBlocked, match="never fetches it unless DISTILL_PARSER_ALLOWED_NETWORKS lists it"):
            p.check(ipaddress.ip_address(ip), "metadata.internal")


def test_allowed_networks_open_only_their_ranges() -> None:
    p = Policy(allowed=parse_networks(["127.0.0.2/32", "10.20.0.0/16", "169.254.169.254/32"]))
    assert p.permits(ipaddress.ip_address("127.0.0.2"))
    assert p.permits(ipaddress.ip_address("::ffff:127.0.0.2"))  # the same address in IPv6 form
    assert p.permits(ipaddress.ip_address("10.20.3.4"))
    assert p.permits(ipaddress.ip_address("169.254.169.254"))  # listed explicitly
    assert not p.permits(ipaddress.ip_address("127.0.0.1"))
    assert not p.permits(ipaddress.ip_address("10.21.0.1"))


def test_a_bad_network_is_named() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33' is not an IP network"):
        parse_networks(["10.0.0.0/8", "10.0.0.0/33"])


def _resolver(answers: dict[str, list[str]], calls: list[str]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[host]

    return resolve


async def test_vet_checks_every_address_a_name_has() -> None:
    calls: list[str] = []
    g = Guard(Policy(), _resolver({"good.test": ["93.184.216.34"], "mixed.test": ["93.184.216.34", "10.0.0.5"]}, calls))
    assert await g.vet("good.test", 80) == [ipaddress.ip_address("93.184.216.34")]
    with pytest.raises(SsrfBlocked, match=r"mixed.test resolves to 10.0.0.5, which is a private address"):
        await g.vet("mixed.test", 80)
    with pytest.raises(SsrfBlocked):
        await g.vet("2130706433", 80)  # a literal: no DNS asked
    assert calls == ["good.test", "mixed.test"]


async def test_vet_classifies_dns_failures() -> None:
    g = Guard(Policy(), _resolver({}, []))
    with pytest.raises(Exception) as e:
        await g.vet("nowhere.test", 80)
    assert getattr(e.value, "code", None) == "DNS_NOT_FOUND" and not e.value.retryable  # type: ignore[attr-defined]

    async def broken(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    with pytest.raises(Exception) as e2:
        await Guard(Policy(), broken).vet("flaky.test", 80)
    assert getattr(e2.value, "code", None) == "DNS_ERROR" and e2.value.retryable  # type: ignore[attr-defined]
