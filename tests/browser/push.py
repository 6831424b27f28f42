"""Web Push in a headless Chromium that cannot reach its push service.

Chromium subscribes through Google's push service (FCM), which a test machine cannot
reach. Two stand-ins, both on the browser's side of the protocol, none in our code:

* `subscription_shim`: a script run before the page's own (CDP
  Page.addScriptToEvaluateOnNewDocument) that answers `PushManager.subscribe()` with a
  subscription of the local test push service (tests/fakes/push_service.py), as the
  browser would with FCM's, and records the applicationServerKey it was asked for. The
  page then registers that subscription with the gateway like any other, and the
  notifier really delivers to it (encrypted, VAPID-signed).
* `deliver_push`: hands a payload to the page's service worker as a push event (CDP
  ServiceWorker.deliverPushMessage), which is what the browser does when its push
  service delivers.
"""

from __future__ import annotations

import itertools
import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

import websocket

T = TypeVar("T")

SHIM = """
(() => {
  const SUB = %s;
  let current = null;
  window.__distillPushKeys = [];
  const subscription = () => ({
    endpoint: SUB.endpoint,
    expirationTime: null,
    options: { userVisibleOnly: true },
    toJSON: () => ({ endpoint: SUB.endpoint, expirationTime: null, keys: { p256dh: SUB.p256dh, auth: SUB.auth } }),
    unsubscribe: () => { current = null; return Promise.resolve(true); },
  });
  PushManager.prototype.subscribe = function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    window.__distillPushKeys.push(btoa(String.fromCharCode(...key)));
    current = subscription();
    return Promise.resolve(current);
  };
  PushManager.prototype.getSubscription = function () { return Promise.resolve(current); };
})();
"""


def subscription_shim(subscription: dict[str, str]) -> str:
    return SHIM % json.dumps(subscription)


class Cdp:
    """A second DevTools connection to the browser chromedriver runs (events included)."""

    def __init__(self, driver: Any) -> None:
        address = driver.capabilities["goog:chromeOptions"]["debuggerAddress"]
        with urllib.request.urlopen(f"http://{address}/json/version", timeout=10) as r:
            ws_url = json.loads(r.read())["webSocketDebuggerUrl"]
        self.ws = websocket.create_connection(ws_url, timeout=10, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        mid = next(self.ids)
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == mid:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, match: Any, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ev in self.events:
                if ev.get("method") == method and match(ev["params"]):
                    return ev["params"]
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                self.events.append(json.loads(self.ws.recv()))
            except websocket.WebSocketTimeoutException:
                break
        raise AssertionError(f"no {method} event within {timeout} s")

    def close(self) -> None:
        self.ws.close()


def deliver_push(
    driver: Any, origin: str, payload: dict[str, Any], until: Callable[[], T | None], attempts: int = 3
) -> T:
    """Dispatch a push event carrying `payload` to the service worker registered for `origin`
    and return `until()` (which waits a few seconds for the effect, None if none).

    The DevTools session stays open meanwhile (closed earlier, it takes a delivery to a
    stopped worker with it). DevTools' delivery to a worker that has gone idle is sometimes
    lost (seen with Chromium 156: the next one arrives); a lost one is sent again, which is
    harmless: the notification of a task replaces the previous one (same tag)."""
    cdp = Cdp(driver)
    try:
        page = next(
            t["targetId"]
            for t in cdp.send("Target.getTargets")["targetInfos"]
            if t["type"] == "page" and t["url"].startswith(origin)
        )
        session = cdp.send("Target.attachToTarget", {"targetId": page, "flatten": True})["sessionId"]
        cdp.send("ServiceWorker.enable", session=session)
        scope = origin + "/"
        found = cdp.wait_event(
            "ServiceWorker.workerRegistrationUpdated",
            lambda p: any(r["scopeURL"] == scope and not r["isDeleted"] for r in p["registrations"]),
        )
        reg = next(r for r in found["registrations"] if r["scopeURL"] == scope and not r["isDeleted"])
        for _ in range(attempts):
            cdp.send(
                "ServiceWorker.deliverPushMessage",
                {"origin": origin, "registrationId": reg["registrationId"], "data": json.dumps(payload)},
                session=session,
            )
            handled = until()
            if handled:
                return handled
        raise AssertionError(f"the service worker did not handle a push in {attempts} deliveries")
    finally:
        cdp.close()
