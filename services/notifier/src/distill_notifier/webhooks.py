"""Webhook deliveries: the stored JSON body, signed per attempt (see signing.py)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from distill_notifier.queue import Claimed
from distill_notifier.signing import signed_headers
from distill_notifier.transport import Outcome, Poster


class WebhookSender:
    kind = "webhook"

    def __init__(self, poster: Poster) -> None:
        self.poster = poster

    async def send(self, dest: Mapping[str, Any], d: Claimed) -> Outcome:
        body = d.body.encode()
        headers = {
            "Content-Type": "application/json",
            "Distill-Event-Type": d.event_type,
            **signed_headers(dest["secret"], d.event_id, int(time.time()), body),
        }
        return await self.poster.post(dest["url"], body, headers, push=False)
