"""TLS and mTLS on the gateway, with certificates from scripts/dev_ca.py: a plaintext client, a
client trusting another CA and (under mTLS) a client without a certificate or with one from
another CA are all refused at the handshake; the right ones get through, with the client
library, the CLI and raw gRPC alike."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from distill_client import AsyncClient, Tls, Unavailable
from distill_core.settings import GatewaySettings

from tests.integration.gateway_fixture import Gateway, running_gateway
from tests.security.certs import SCRIPT, make

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Our CA with server and client certificates, and a stranger's CA with a client certificate."""
    ours = tmp_path_factory.mktemp("pki")
    out = subprocess.run(
        [sys.executable, str(SCRIPT), str(ours), "--client", "alice"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"DISTILL_TLS_CLIENT_CERT_FILE={ours / 'alice.pem'}" in out.stdout
    assert oct((ours / "ca-key.pem").stat().st_mode & 0o777) == "0o600"
    theirs = tmp_path_factory.mktemp("pki-stranger")
    make(theirs, clients=("mallory",))
    return {
        "ca": ours / "ca.pem",
        "cert": ours / "server.pem",
        "key": ours / "server-key.pem",
        "alice": ours / "alice.pem",
        "alice_key": ours / "alice-key.pem",
        "stranger_ca": theirs / "ca.pem",
        "mallory": theirs / "mallory.pem",
        "mallory_key": theirs / "mallory-key.pem",
    }


def alice(pki: dict[str, Path]) -> Tls:
    return Tls(ca_file=str(pki["ca"]), cert_file=str(pki["alice"]), key_file=str(pki["alice_key"]))


@pytest.fixture(scope="module")
async def tls_gw(nats_url: str, database_url: str, pki: dict[str, Path]) -> AsyncIterator[Gateway]:
    probe = Tls(ca_file=str(pki["ca"])).credentials()
    async with running_gateway(
        nats_url, database_url, tls_cert_file=pki["cert"], tls_key_file=pki["key"], probe_credentials=probe
    ) as g:
        yield g


@pytest.fixture(scope="module")
async def mtls_gw(nats_url: str, database_url: str, pki: dict[str, Path]) -> AsyncIterator[Gateway]:
    async with running_gateway(
        nats_url,
        database_url,
        tls_cert_file=pki["cert"],
        tls_key_file=pki["key"],
        tls_client_ca_file=pki["ca"],
        probe_credentials=alice(pki).credentials(),
    ) as g:
        yield g


async def refused(address: str, key: str, **kw: object) -> str:
    """The message of a call that must fail at the transport (UNAVAILABLE), with a short deadline."""
    async with AsyncClient(address, key, timeout=5, retries=0, **kw) as c:  # type: ignore[arg-type]
        with pytest.raises(Unavailable) as e:
            await c.list_tasks()
    return e.value.message


async def test_tls_gateway_speaks_only_tls_to_clients_that_trust_its_ca(tls_gw: Gateway, pki: dict[str, Path]) -> None:
    _, key = await tls_gw.tenant()
    async with AsyncClient(tls_gw.address, key, tls=Tls(ca_file=str(pki["ca"]))) as c:
        assert (await c.list_tasks()).total_size == 0
    await refused(tls_gw.address, key, credentials=None, tls=None)  # plaintext (no DISTILL_TLS_* set here)
    await refused(tls_gw.address, key, tls=Tls(ca_file=str(pki["stranger_ca"])))  # another CA
    # The name checked is the certificate's: a name it does not carry is refused.
    await refused(tls_gw.address, key, tls=Tls(ca_file=str(pki["ca"]), server_name="gateway.example.com"))


async def test_mtls_refuses_clients_without_a_certificate_of_its_ca(mtls_gw: Gateway, pki: dict[str, Path]) -> None:
    _, key = await mtls_gw.tenant()
    async with AsyncClient(mtls_gw.address, key, tls=alice(pki)) as c:
        assert (await c.list_tasks()).total_size == 0
    await refused(mtls_gw.address, key, tls=Tls(ca_file=str(pki["ca"])))  # no client certificate
    stranger = Tls(ca_file=str(pki["ca"]), cert_file=str(pki["mallory"]), key_file=str(pki["mallory_key"]))
    await refused(mtls_gw.address, key, tls=stranger)  # a certificate from another CA
    # A certificate is not a key: with the right certificate but no API key, still UNAUTHENTICATED.
    async with AsyncClient(mtls_gw.address, "", tls=alice(pki)) as c:
        c.api_key = None
        with pytest.raises(Exception, match="missing or invalid API key"):
            await c.list_tasks()


async def test_the_cli_talks_mtls_from_flags_or_environment(mtls_gw: Gateway, pki: dict[str, Path]) -> None:
    _, key = await mtls_gw.tenant()
    exe = str(Path(sys.executable).parent / "distill")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTILL_TLS")}
    env.update(DISTILL_GATEWAY=mtls_gw.address, DISTILL_API_KEY=key)
    flags = ["--tls-ca", str(pki["ca"]), "--tls-cert", str(pki["alice"]), "--tls-key", str(pki["alice_key"])]
    with_flags = await asyncio.to_thread(
        subprocess.run, [exe, *flags, "list", "--json"], capture_output=True, text=True, env=env, timeout=60
    )
    assert with_flags.returncode == 0, with_flags.stderr
    by_env = dict(
        env,
        DISTILL_TLS_CA_FILE=str(pki["ca"]),
        DISTILL_TLS_CLIENT_CERT_FILE=str(pki["alice"]),
        DISTILL_TLS_CLIENT_KEY_FILE=str(pki["alice_key"]),
    )
    with_env = await asyncio.to_thread(
        subprocess.run, [exe, "list", "--json"], capture_output=True, text=True, env=by_env, timeout=60
    )
    assert with_env.returncode == 0, with_env.stderr
    without = await asyncio.to_thread(
        subprocess.run, [exe, "--tls-ca", str(pki["ca"]), "list"], capture_output=True, text=True, env=env, timeout=60
    )
    assert without.returncode == 1 and "cannot reach the gateway" in without.stderr


def test_tls_settings_are_checked_before_anything_starts(pki: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="DISTILL_TLS_KEY_FILE"):
        GatewaySettings(tls_cert_file=pki["cert"])
    with pytest.raises(ValueError, match="needs TLS"):
        GatewaySettings(tls_client_ca_file=pki["ca"])
    # `distill up` with mTLS but no client certificate for its own health checks: a clear refusal, at once.
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTILL_TLS")}
    env.update(
        DISTILL_TLS_CERT_FILE=str(pki["cert"]),
        DISTILL_TLS_KEY_FILE=str(pki["key"]),
        DISTILL_TLS_CLIENT_CA_FILE=str(pki["ca"]),
    )
    up = subprocess.run(
        [str(Path(sys.executable).parent / "distill"), "up", "--data-dir", str(tmp_path / "d"), "--grpc-port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert up.returncode == 2 and "DISTILL_TLS_CLIENT_CERT_FILE" in up.stderr, up.stderr
    assert not (tmp_path / "d").exists(), "distill up started something before refusing"
