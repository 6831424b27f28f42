"""A local webhook receiver that checks each request as docs/notifications.md tells receivers to.

    rx = WebhookReceiver()                 # rx.url to register; rx.secret = the secret CreateWebhook returned
    rx.fail_next(5)                        # the next five requests answer 500
    rx.hang = True                         # requests are held until the client gives up (a dead endpoint)
    rx.events()                            # verified bodies, deduplicated by webhook-id, in arrival order

Requests with a missing or wrong signature, or a timestamp more than five minutes away,
are answered 401 and counted in `rx.rejected`; they never count as received.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE = 300


def verify(secret: str, headers: dict[str, str], body: bytes, now: float | None = None) -> str | None:
    """None when the Standard Webhooks headers sign `body` with `secret`, else why not."""
    h = {k.lower(): v for k, v in headers.items()}
    msg_id, ts, sigs = h.get("webhook-id"), h.get("webhook-timestamp", ""), h.get("webhook-signature", "")
    if not msg_id or not ts.isdigit() or not sigs:
        return "missing webhook-id, webhook-timestamp or webhook-signature"
    if abs((time.time() if now is None else now) - int(ts)) > TOLERANCE:
        return "timestamp too far from now"
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    for sig in sigs.split():
        version, _, value = sig.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return None
    return "no signature matches"


class WebhookReceiver:
    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.lock = threading.Lock()
        self.received: list[dict[str, Any]] = []  # every verified request, duplicates included
        self.ids: list[str] = []
        self.rejected: list[str] = []
        self.failures_left = 0
        self.status = 204
        self.hang = False
        self.arrivals: list[float] = []
        self.released = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n)
                status = outer._handle(dict(self.headers.items()), body)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the client gave up (hang)

            def log_message(self, *a: object) -> None:
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}/hooks/distill?token=s3cr3t-in-url"

    def close(self) -> None:
        self.released.set()
        self.srv.shutdown()
        self.srv.server_close()

    def fail_next(self, n: int) -> None:
        with self.lock:
            self.failures_left = n

    def _handle(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            self.arrivals.append(time.monotonic())
            hang = self.hang
        if hang:
            self.released.wait(60)
            return 503
        problem = verify(self.secret, headers, body)
        with self.lock:
            if problem:
                self.rejected.append(problem)
                return 401
            if self.failures_left > 0:
                self.failures_left -= 1
                return 500
            doc = json.loads(body)
            msg_id = {k.lower(): v for k, v in headers.items()}["webhook-id"]
            if doc.get("id") != msg_id:
                self.rejected.append("body id differs from webhook-id")
                return 400
            self.received.append(doc)
            self.ids.append(msg_id)
            return self.status

    def events(self) -> list[dict[str, Any]]:
        """Verified events, each once (a receiver deduplicates by webhook-id), in arrival order."""
        with self.lock:
            seen: dict[str, dict[str, Any]] = {}
            for doc in self.received:
                seen.setdefault(doc["id"], doc)
            return list(seen.values())

    def count(self) -> int:
        with self.lock:
            return len(self.received)
