"""A local Web Push service with the browser's side built in, for tests.

It plays both parts the notifier cannot see: the push service (RFC 8030: POST to the
subscription's endpoint, 201 Created; 404/410 for a subscription that is gone; 429
with Retry-After; 401/403 for a bad VAPID token) and the user agent that holds the
subscription's private key and decrypts each message (RFC 8291 with RFC 8188
aes128gcm). Decryption and the VAPID check (RFC 8292: an ES256 JWT whose `aud` is the
endpoint's origin, `exp` within 24 hours, a `sub` contact, and `k` the application
server key the subscription was made with) are written here from the RFCs with
`cryptography` primitives, independently of pywebpush and py-vapid.

    push = PushService(vapid_public_key)
    sub = push.subscribe()                  # {"endpoint", "p256dh", "auth"} as a browser gives them
    push.answer(sub, 429, retry_after=1)    # the next answers for this subscription; then 201
    push.gone(sub)                          # every request answers 410 from now on
    push.messages(sub)                      # decrypted payloads, in arrival order
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 with one block of output (all Web Push needs)."""
    return _hmac(_hmac(salt, ikm), info + b"\x01")[:length]


def public_bytes(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return pub.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def decrypt(body: bytes, ua_private: ec.EllipticCurvePrivateKey, auth_secret: bytes) -> bytes:
    """The plaintext of an aes128gcm Web Push message (RFC 8291 section 3.4, RFC 8188 section 2)."""
    if len(body) < 21:
        raise ValueError("shorter than the aes128gcm header")
    salt, rs, idlen = body[:16], struct.unpack("!I", body[16:20])[0], body[20]
    as_public = body[21 : 21 + idlen]
    records = body[21 + idlen :]
    if idlen != 65 or as_public[0] != 4:
        raise ValueError("keyid is not the sender's uncompressed P-256 key (RFC 8291 section 4)")
    if rs < 18 or len(records) > rs:
        raise ValueError("a Web Push message is a single record (RFC 8291 section 4)")
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), as_public)
    ecdh_secret = ua_private.exchange(ec.ECDH(), peer)
    key_info = b"WebPush: info\x00" + public_bytes(ua_private) + as_public
    ikm = _hkdf(auth_secret, ecdh_secret, key_info, 32)
    cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
    padded = AESGCM(cek).decrypt(nonce, records, None)
    data = padded.rstrip(b"\x00")
    if not data.endswith(b"\x02"):
        raise ValueError("the last record must end with the 0x02 delimiter")
    return data[:-1]


def verify_vapid(authorization: str, endpoint: str, expected_key: str | None, now: float | None = None) -> str | None:
    """None when the `vapid t=…, k=…` header is valid for `endpoint`, else why not (RFC 8292)."""
    scheme, _, params = authorization.partition(" ")
    if scheme.lower() != "vapid":
        return f"authorization scheme {scheme!r} is not vapid"
    fields = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
    token, key = fields.get("t", ""), fields.get("k", "")
    if not token or not key:
        return "vapid needs both t= and k="
    if expected_key is not None and key != expected_key:
        return "k is not the application server key the subscription was made with"
    try:
        head_b64, claims_b64, sig_b64 = token.split(".")
        header = json.loads(unb64u(head_b64))
        claims = json.loads(unb64u(claims_b64))
        sig = unb64u(sig_b64)
        pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64u(key))
    except (ValueError, json.JSONDecodeError):
        return "the token is not a JWT or k is not a P-256 key"
    if header.get("alg") != "ES256" or len(sig) != 64:
        return "the JWT must be ES256 (a 64-byte r||s signature)"
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        pub.verify(der, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "the JWT signature does not verify with k"
    parts = urlsplit(endpoint)
    if claims.get("aud") != f"{parts.scheme}://{parts.netloc}":
        return f"aud {claims.get('aud')!r} is not the endpoint's origin"
    now = time.time() if now is None else now
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= now or exp > now + 24 * 3600:
        return "exp must be in the future and at most 24 hours away"
    sub = str(claims.get("sub", ""))
    if not (sub.startswith("mailto:") or sub.startswith("https:")):
        return "sub must be a mailto: or https: contact"
    return None


@dataclass
class Subscription:
    id: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    endpoint: str
    answers: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    gone_status: int | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    times: list[float] = field(default_factory=list)

    def info(self) -> dict[str, str]:
        return {"endpoint": self.endpoint, "p256dh": b64u(public_bytes(self.private_key)), "auth": b64u(self.auth)}


class PushService:
    def __init__(self, vapid_public_key: str | None = None) -> None:
        self.vapid_public_key = vapid_public_key
        self.subs: dict[str, Subscription] = {}
        self.rejected: list[str] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                status, headers = outer._handle(self.path, dict(self.headers.items()), self.rfile.read(n))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a: object) -> None:
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.srv.server_address[1]}"

    def close(self) -> None:
        self.srv.shutdown()
        self.srv.server_close()

    def subscribe(self) -> dict[str, str]:
        """A new subscription as a browser would hand it over (PushSubscription.toJSON(), flattened)."""
        sid = secrets.token_urlsafe(12)
        sub = Subscription(sid, ec.generate_private_key(ec.SECP256R1()), secrets.token_bytes(16), "")
        sub.endpoint = f"{self.base}/push/{sid}"
        with self.lock:
            self.subs[sid] = sub
        return sub.info()

    def _sub(self, info: dict[str, str]) -> Subscription:
        return self.subs[info["endpoint"].rsplit("/", 1)[1]]

    def answer(self, info: dict[str, str], status: int, *, times: int = 1, retry_after: float | None = None) -> None:
        """The next `times` requests for this subscription get `status` (then 201 again)."""
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        with self.lock:
            self._sub(info).answers.extend([(status, headers)] * times)

    def gone(self, info: dict[str, str], status: int = 410) -> None:
        with self.lock:
            self._sub(info).gone_status = status

    def messages(self, info: dict[str, str]) -> list[dict[str, Any]]:
        with self.lock:
            return list(self._sub(info).messages)

    def requests(self, info: dict[str, str]) -> list[float]:
        """Arrival times (time.monotonic) of every request for this subscription."""
        with self.lock:
            return list(self._sub(info).times)

    def _handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        h = {k.lower(): v for k, v in headers.items()}
        with self.lock:
            sub = self.subs.get(path.rsplit("/", 1)[-1]) if path.startswith("/push/") else None
            if sub is None:
                return 404, {}
            sub.requests += 1
            sub.times.append(time.monotonic())
            if sub.gone_status:
                return sub.gone_status, {}
            scripted = sub.answers.popleft() if sub.answers else None
        problem = self._check(sub, h, body)
        if problem:
            with self.lock:
                self.rejected.append(problem)
            return (401 if "vapid" in problem.lower() or "jwt" in problem.lower() else 400), {}
        if scripted:
            return scripted
        try:
            plain = decrypt(body, sub.private_key, sub.auth)
        except (ValueError, InvalidTag) as e:
            with self.lock:
                self.rejected.append(f"decryption failed: {e!r}")
            return 400, {}
        with self.lock:
            sub.messages.append(json.loads(plain))
        return 201, {"Location": f"{self.base}/message/{secrets.token_urlsafe(8)}"}

    def _check(self, sub: Subscription, h: dict[str, str], body: bytes) -> str | None:
        if h.get("content-encoding") != "aes128gcm":
            return f"content-encoding {h.get('content-encoding')!r} is not aes128gcm"
        if not h.get("ttl", "").isdigit():
            return "the TTL header is required (RFC 8030 section 5.2)"
        if len(body) > 4096:
            return f"payload of {len(body)} bytes is over 4096"
        return verify_vapid(h.get("authorization", ""), sub.endpoint, self.vapid_public_key)
