"""Web Push deliveries: the payload encrypted for the browser (RFC 8291 aes128gcm, by pywebpush)
and signed for the push service (RFC 8292 VAPID, by py-vapid)."""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from distill_core import netguard
from distill_core.errors import InvalidInput
from py_vapid import Vapid02, VapidException
from pywebpush import WebPusher, WebPushException

from distill_notifier.queue import Claimed
from distill_notifier.transport import Outcome, Poster

JWT_LIFETIME = 12 * 3600  # RFC 8292: at most 24 hours
JWT_REUSE = 3600  # a signed token is reused for this long per push service


def load_vapid(private_key: str) -> Vapid02:
    """The VAPID key pair from the base64url raw private key (as `distill keys vapid` prints it)."""
    try:
        return Vapid02.from_string(private_key.strip())
    except (VapidException, ValueError, TypeError) as e:
        raise InvalidInput(
            "DISTILL_VAPID_PRIVATE_KEY is not a VAPID private key (base64url of 32 bytes; run `distill keys vapid`)"
        ) from e


def public_key(vapid: Vapid02) -> str:
    """The application server key browsers subscribe with: base64url of the uncompressed P-256 point."""
    raw = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class PushSender:
    kind = "push"

    def __init__(self, poster: Poster, vapid: Vapid02 | None, subject: str, ttl: int) -> None:
        self.poster = poster
        self.vapid = vapid
        self.subject = subject
        self.ttl = ttl
        self._tokens: dict[str, tuple[float, str]] = {}

    def authorization(self, audience: str) -> str:
        """The `vapid t=<JWT>,k=<public key>` header for one push service (cached for an hour)."""
        now = time.time()
        cached = self._tokens.get(audience)
        if cached and cached[0] > now:
            return cached[1]
        assert self.vapid is not None
        claims = {"aud": audience, "exp": int(now) + JWT_LIFETIME, "sub": self.subject}
        header = self.vapid.sign(claims)["Authorization"]
        self._tokens[audience] = (now + JWT_REUSE, header)
        return header

    def encrypt(self, dest: Mapping[str, Any], payload: bytes) -> bytes:
        info = {"endpoint": dest["endpoint"], "keys": {"p256dh": dest["p256dh"], "auth": dest["auth"]}}
        return bytes(WebPusher(info).encode(payload, content_encoding="aes128gcm")["body"])

    async def send(self, dest: Mapping[str, Any], d: Claimed) -> Outcome:
        if self.vapid is None:
            return Outcome(False, error="Web Push is not configured (DISTILL_VAPID_PRIVATE_KEY is unset)", retry=True)
        try:
            target = netguard.check_url(dest["endpoint"], allow_private=True)  # addresses are checked on send
            body = self.encrypt(dest, d.body.encode())
            auth = self.authorization(target.origin)
        except InvalidInput as e:
            return Outcome(False, error=e.message)
        except (WebPushException, ValueError, TypeError) as e:
            return Outcome(False, error=f"the subscription's keys are not usable ({type(e).__name__})")
        except VapidException:
            return Outcome(False, error="the VAPID token could not be made for this push service")
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Encoding": "aes128gcm",
            "TTL": str(self.ttl),
            "Urgency": "normal",
            "Authorization": auth,
        }
        return await self.poster.post(dest["endpoint"], body, headers, push=True)
