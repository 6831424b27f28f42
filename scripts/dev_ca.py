"""A local certificate authority and certificates for TLS / mTLS in development.

    .venv/bin/python scripts/dev_ca.py DIR [--host NAME ...] [--days N] [--client NAME ...]

writes into DIR (keys mode 0600):

    ca.pem  ca-key.pem              the development CA (trust it in clients; sign with it)
    server.pem  server-key.pem      the gateway's certificate: localhost, 127.0.0.1, ::1 and --host
    client.pem  client-key.pem      a client certificate for mTLS (one per --client NAME:
                                    NAME.pem / NAME-key.pem; `client` when none is given)

and prints the variables that turn TLS and mTLS on (docs/security.md). An existing CA in
DIR is reused, so certificates made later are trusted by clients that already trust it.
For development only: production certificates come from your PKI (cert-manager, ...).
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Distill development"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _san(hosts: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for h in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    return x509.SubjectAlternativeName(names)


def make_ca(days: int) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Distill development CA"))
        .issuer_name(_name("Distill development CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def issue(
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    cn: str,
    *,
    hosts: list[str] | None,
    client: bool,
    days: int,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A leaf certificate signed by the CA: for a server (SANs `hosts`) or a client."""
    key = _key()
    now = dt.datetime.now(dt.UTC)
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if hosts:
        b = b.add_extension(_san(hosts), critical=False)
    return b.sign(ca_key, hashes.SHA256()), key


def load_or_make_ca(folder: Path, days: int) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_file, key_file = folder / "ca.pem", folder / "ca-key.pem"
    if cert_file.exists() and key_file.exists():
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return x509.load_pem_x509_certificate(cert_file.read_bytes()), key
    cert, key = make_ca(days)
    _write_key(key_file, key)
    _write_cert(cert_file, cert)
    return cert, key


def make_all(folder: Path, hosts: list[str] = (), clients: list[str] = (), days: int = 365) -> dict[str, Path]:
    """Write the CA (or reuse it), the server certificate and the client certificates; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = load_or_make_ca(folder, days * 5)
    server, server_key = issue(ca, ca_key, "distill-gateway", hosts=[*DEFAULT_HOSTS, *hosts], client=False, days=days)
    _write_cert(folder / "server.pem", server)
    _write_key(folder / "server-key.pem", server_key)
    out = {"ca": folder / "ca.pem", "server": folder / "server.pem", "server_key": folder / "server-key.pem"}
    for name in clients or ["client"]:
        cert, key = issue(ca, ca_key, name, hosts=None, client=True, days=days)
        _write_cert(folder / f"{name}.pem", cert)
        _write_key(folder / f"{name}-key.pem", key)
        out[name] = folder / f"{name}.pem"
        out[f"{name}_key"] = folder / f"{name}-key.pem"
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", type=Path, help="where to write the PEM files")
    ap.add_argument("--host", action="append", default=[], help="another name or address of the gateway (repeat)")
    ap.add_argument("--client", action="append", default=[], help="a client certificate to make (repeat)")
    ap.add_argument("--days", type=int, default=365, help="validity of the server and client certificates")
    args = ap.parse_args(argv)
    d = args.dir.resolve()
    paths = make_all(d, args.host, args.client, args.days)
    client = (args.client or ["client"])[0]
    print(f"# certificates in {d}; TLS for the gateway (distill up and the clients):")
    print(f"export DISTILL_TLS_CERT_FILE={paths['server']} DISTILL_TLS_KEY_FILE={paths['server_key']}")
    print(f"export DISTILL_TLS_CA_FILE={paths['ca']}")
    print("# and for mTLS (clients must present a certificate signed by the CA):")
    print(f"export DISTILL_TLS_CLIENT_CA_FILE={paths['ca']}")
    print(f"export DISTILL_TLS_CLIENT_CERT_FILE={paths[client]} DISTILL_TLS_CLIENT_KEY_FILE={paths[client + '_key']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
