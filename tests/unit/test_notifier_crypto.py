"""Signatures and encryption checked against the published vectors, and against the test fakes."""

from __future__ import annotations

import base64
import time

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from distill_notifier import signing
from distill_notifier.webpush import PushSender, load_vapid, public_key

from tests.fakes.push_service import b64u, decrypt, unb64u, verify_vapid
from tests.fakes.webhook_receiver import verify

# RFC 8291 Appendix A.
UA_PRIVATE = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
UA_PUBLIC = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
AUTH = "BTBZMqHH6r4Tts7J_aSIgg"
BODY = (
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl"
    "7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
)


def ua_key() -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(unb64u(UA_PRIVATE), "big"), ec.SECP256R1())


def test_the_fake_browser_decrypts_the_rfc_8291_example() -> None:
    assert decrypt(unb64u(BODY), ua_key(), unb64u(AUTH)) == b"When I grow up, I want to be a watermelon"


def test_a_tampered_message_does_not_decrypt() -> None:
    body = bytearray(unb64u(BODY))
    body[-3] ^= 1
    with pytest.raises(InvalidTag):
        decrypt(bytes(body), ua_key(), unb64u(AUTH))


def new_vapid_key() -> str:
    return b64u(ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value.to_bytes(32, "big"))


def test_what_the_notifier_encrypts_the_browser_reads() -> None:
    vapid = load_vapid(new_vapid_key())
    sender = PushSender(None, vapid, "mailto:ops@example.com", 60)  # type: ignore[arg-type]
    dest = {"endpoint": "https://push.example/x", "p256dh": UA_PUBLIC, "auth": AUTH}
    payload = '{"type":"item.succeeded","title":"Ünïcode ✓"}'.encode()
    body = sender.encrypt(dest, payload)
    assert decrypt(body, ua_key(), unb64u(AUTH)) == payload
    assert body[21:86] != unb64u(UA_PUBLIC)  # a fresh sender key, never the browser's


def test_vapid_tokens_verify_for_their_audience_only() -> None:
    vapid = load_vapid(new_vapid_key())
    sender = PushSender(None, vapid, "mailto:ops@example.com", 60)  # type: ignore[arg-type]
    header = sender.authorization("https://push.example")
    key = public_key(vapid)
    assert verify_vapid(header, "https://push.example/abc", key) is None
    assert "aud" in (verify_vapid(header, "https://other.example/abc", key) or "")
    other_key = b64u(b"\x04" + b"1" * 64)
    assert "application server key" in (verify_vapid(header, "https://push.example/abc", other_key) or "")
    assert sender.authorization("https://push.example") == header  # reused within the hour
    assert "exp" in (verify_vapid(header, "https://push.example/abc", key, now=time.time() + 13 * 3600) or "")


def test_load_vapid_names_the_setting_on_a_bad_key() -> None:
    with pytest.raises(Exception, match="DISTILL_VAPID_PRIVATE_KEY"):
        load_vapid("not-a-key")


def test_signature_matches_the_standard_webhooks_vector() -> None:
    sig = signing.signature(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    )
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_receiver_recipe_accepts_ours_and_rejects_changes() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    now = int(time.time())
    body = b'{"id":"e1"}'
    headers = signing.signed_headers(secret, "e1", now, body)
    assert verify(secret, headers, body) is None
    assert verify(secret, headers, body + b" ") == "no signature matches"
    assert verify(signing.new_secret(), headers, body) == "no signature matches"
    assert verify(secret, {**headers, "webhook-id": "e2"}, body) == "no signature matches"
    old = signing.signed_headers(secret, "e1", now - 3600, body)
    assert verify(secret, old, body) == "timestamp too far from now"
