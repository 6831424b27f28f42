"""`distill keys vapid`: a VAPID key pair for Web Push (RFC 8292), made with py-vapid."""

from __future__ import annotations

import base64
import json

import typer


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def generate(subject: str = "") -> dict[str, str]:
    """A fresh key pair as the settings take it: base64url raw private key, uncompressed public point."""
    from cryptography.hazmat.primitives import serialization
    from py_vapid import Vapid02

    v = Vapid02()
    v.generate_keys()
    private = v.private_key.private_numbers().private_value.to_bytes(32, "big")
    public = v.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    keys = {"DISTILL_VAPID_PUBLIC_KEY": b64url(public), "DISTILL_VAPID_PRIVATE_KEY": b64url(private)}
    if subject:
        keys["DISTILL_VAPID_SUBJECT"] = subject
    return keys


def vapid(
    subject: str = typer.Option(
        "", "--subject", help="Contact for push services: mailto:you@example.com or an https: URL."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Print a new VAPID key pair for Web Push as environment settings.

    Give the gateway DISTILL_VAPID_PUBLIC_KEY (browsers subscribe with it) and the
    notifier DISTILL_VAPID_PRIVATE_KEY (it signs every push with it; keep it secret).
    Changing the pair invalidates every existing browser subscription.

    Examples:

        distill keys vapid --subject mailto:ops@example.com >> .env
        eval "$(distill keys vapid | sed 's/^/export /')"
    """
    if subject and not (subject.startswith("mailto:") or subject.startswith("https://")):
        typer.echo(f"--subject must start with mailto: or https:// (got {subject!r})", err=True)
        raise typer.Exit(2)
    keys = generate(subject)
    if as_json:
        print(json.dumps(keys, indent=2))
        return
    for k, v in keys.items():
        print(f"{k}={v}")
