"""The Notifications service: Web Push subscriptions and webhooks, per tenant.

The gateway only stores destinations; the notifier delivers to them. Webhook secrets
are made here and shown once (CreateWebhook); they are never logged nor listed.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import uuid
from typing import Any

import grpc
from distill.v1 import notifications_pb2 as npb
from distill.v1 import notifications_pb2_grpc
from distill_core import convert, netguard
from distill_core.apikeys import Caller
from distill_core.errors import FailedPrecondition, InvalidInput, NotFoundError, ResourceExhausted
from distill_core.logging import get_logger
from distill_core.settings import GatewaySettings
from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from distill_gateway import paging, validation
from distill_gateway.auth import Authenticator
from distill_gateway.calls import rpc

log = get_logger(__name__)

FILTER_NAME = {
    npb.EVENT_FILTER_UNSPECIFIED: "default",
    npb.EVENT_FILTER_DEFAULT: "default",
    npb.EVENT_FILTER_ALL: "all",
}
FILTER_ENUM = {"default": npb.EVENT_FILTER_DEFAULT, "all": npb.EVENT_FILTER_ALL}


class NotificationSettings(BaseSettings):
    """What the gateway needs to know about notifications (DISTILL_* variables)."""

    model_config = SettingsConfigDict(env_prefix="DISTILL_", extra="ignore")

    vapid_public_key: str = ""
    notifier_allow_private_networks: bool | None = None
    parser_allow_private_networks: bool = False
    max_webhooks_per_tenant: int = 100
    max_push_subscriptions_per_tenant: int = 1000

    @field_validator("vapid_public_key")
    @classmethod
    def _point(cls, v: str) -> str:
        v = v.strip()
        if v and _b64(v, 65, b"\x04") is None:
            raise ValueError(
                "DISTILL_VAPID_PUBLIC_KEY must be base64url of an uncompressed P-256 point (65 bytes); "
                "`distill keys vapid` prints a pair"
            )
        return v

    @property
    def allow_private(self) -> bool:
        return netguard.allow_private_networks(self.notifier_allow_private_networks, self.parser_allow_private_networks)


def _b64(value: str, size: int, prefix: bytes = b"") -> bytes | None:
    """The bytes of base64url (or base64) `value` when they are `size` long and start with `prefix`."""
    v = value.strip().replace("+", "-").replace("/", "_").rstrip("=")
    try:
        raw = base64.urlsafe_b64decode(v + "=" * (-len(v) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == size and raw.startswith(prefix) else None


def check_filter(value: int) -> str:
    if value not in FILTER_NAME:
        raise InvalidInput(f"filter: unknown value {value} (EVENT_FILTER_DEFAULT or EVENT_FILTER_ALL)")
    return FILTER_NAME[value]


def check_keys(p256dh: str, auth: str) -> None:
    """The browser's subscription keys, as PushSubscription.toJSON().keys gives them."""
    if _b64(p256dh, 65, b"\x04") is None:
        raise InvalidInput("p256dh must be the subscription's P-256 public key: base64url of 65 bytes starting 0x04")
    if _b64(auth, 16) is None:
        raise InvalidInput("auth must be the subscription's authentication secret: base64url of 16 bytes")


def check_id(field: str, value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise InvalidInput(f"{field} {value[:80]!r} is not a valid id") from None


def new_webhook_secret() -> str:
    """whsec_ and 32 random bytes in base64 (the Standard Webhooks form distill_notifier.signing reads)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_proto(r: Any, secret: str = "") -> npb.Webhook:
    return npb.Webhook(
        id=str(r.id),
        url=r.url,
        filter=FILTER_ENUM.get(r.filter, npb.EVENT_FILTER_DEFAULT),
        secret=secret,
        create_time=convert.ts(r.created_at),
        task_id=str(r.task_id) if r.task_id else "",
        labels={k: str(v) for k, v in (r.labels or {}).items()},
    )


def subscription_proto(r: Any) -> npb.PushSubscription:
    return npb.PushSubscription(
        id=str(r.id),
        endpoint=r.endpoint,
        task_id=str(r.task_id) if r.task_id else "",
        labels={k: str(v) for k, v in (r.labels or {}).items()},
        filter=FILTER_ENUM.get(r.filter, npb.EVENT_FILTER_DEFAULT),
        create_time=convert.ts(r.created_at),
    )


class NotificationsServicer(notifications_pb2_grpc.NotificationsServicer):
    def __init__(
        self,
        settings: GatewaySettings,
        engine: AsyncEngine,
        options: NotificationSettings | None = None,
        auth: Authenticator | None = None,
    ) -> None:
        self.settings = settings
        self.options = options or NotificationSettings()
        self.engine = engine
        self.auth = auth or Authenticator(engine)

    async def _scope(self, conn: AsyncConnection, tenant: str, task_id: str) -> uuid.UUID | None:
        """The optional task filter: one of the caller's tasks."""
        if not task_id.strip():
            return None
        tid = check_id("task_id", task_id)
        found = await conn.execute(
            text("SELECT 1 FROM tasks WHERE id = :id AND tenant_id = :t"), {"id": tid, "t": tenant}
        )
        if found.first() is None:
            raise NotFoundError(f"task {tid} not found")
        return tid

    async def _room(self, conn: AsyncConnection, table: str, tenant: str, limit: int, what: str) -> None:
        n = (await conn.execute(text(f"SELECT count(*) FROM {table} WHERE tenant_id = :t"), {"t": tenant})).scalar()
        if (n or 0) >= limit:
            raise ResourceExhausted(f"this tenant already has {n} {what}; the limit is {limit} (delete some first)")

    @rpc
    async def GetVapidPublicKey(
        self, request: npb.GetVapidPublicKeyRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> npb.VapidPublicKey:
        if not self.options.vapid_public_key:
            raise FailedPrecondition(
                "Web Push is not configured on this server: set DISTILL_VAPID_PUBLIC_KEY and "
                "DISTILL_VAPID_PRIVATE_KEY (`distill keys vapid` makes a pair)"
            )
        return npb.VapidPublicKey(public_key=self.options.vapid_public_key)

    @rpc
    async def CreatePushSubscription(
        self, request: npb.CreatePushSubscriptionRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> npb.PushSubscription:
        if not self.options.vapid_public_key:
            raise FailedPrecondition("Web Push is not configured on this server (no DISTILL_VAPID_PUBLIC_KEY)")
        target = netguard.check_url(request.endpoint, field="endpoint", allow_private=self.options.allow_private)
        check_keys(request.p256dh, request.auth)
        flt = check_filter(request.filter)
        labels = validation.check_labels(dict(request.labels))
        tenant = caller.tenant_id
        async with self.engine.begin() as conn:
            task_id = await self._scope(conn, tenant, request.task_id)
            exists = await conn.execute(
                text("SELECT 1 FROM push_subscriptions WHERE tenant_id = :t AND endpoint = :e"),
                {"t": tenant, "e": target.url},
            )
            if exists.first() is None:
                limit = self.options.max_push_subscriptions_per_tenant
                await self._room(conn, "push_subscriptions", tenant, limit, "push subscriptions")
            # The same endpoint again (a browser re-subscribing) updates its keys and filters.
            row = (
                await conn.execute(
                    text(
                        "INSERT INTO push_subscriptions "
                        "(id, tenant_id, endpoint, p256dh, auth, filter, task_id, labels) "
                        "VALUES (:id, :t, :e, :p, :a, :f, :task, CAST(:labels AS jsonb)) "
                        "ON CONFLICT ON CONSTRAINT uq_push_subscriptions_tenant_endpoint DO UPDATE SET "
                        "p256dh = excluded.p256dh, auth = excluded.auth, filter = excluded.filter, "
                        "task_id = excluded.task_id, labels = excluded.labels "
                        "RETURNING id, endpoint, filter, task_id, labels, created_at"
                    ),
                    {
                        "id": uuid.uuid4(),
                        "t": tenant,
                        "e": target.url,
                        "p": request.p256dh.strip(),
                        "a": request.auth.strip(),
                        "f": flt,
                        "task": task_id,
                        "labels": json.dumps(labels),
                    },
                )
            ).one()
        log.info("push subscription saved", tenant_id=tenant, subscription_id=str(row.id), push_service=target.host)
        return subscription_proto(row)

    @rpc
    async def DeletePushSubscription(
        self, request: npb.DeletePushSubscriptionRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> npb.DeletePushSubscriptionResponse:
        await self._delete("push_subscriptions", "push subscription", request.id, caller.tenant_id)
        return npb.DeletePushSubscriptionResponse()

    @rpc
    async def CreateWebhook(
        self, request: npb.CreateWebhookRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> npb.Webhook:
        target = netguard.check_url(request.url, field="url", allow_private=self.options.allow_private)
        flt = check_filter(request.filter)
        labels = validation.check_labels(dict(request.labels))
        tenant = caller.tenant_id
        secret = new_webhook_secret()
        async with self.engine.begin() as conn:
            task_id = await self._scope(conn, tenant, request.task_id)
            await self._room(conn, "webhooks", tenant, self.options.max_webhooks_per_tenant, "webhooks")
            row = (
                await conn.execute(
                    text(
                        "INSERT INTO webhooks (id, tenant_id, url, secret, filter, task_id, labels) "
                        "VALUES (:id, :t, :u, :s, :f, :task, CAST(:labels AS jsonb)) "
                        "RETURNING id, url, filter, task_id, labels, created_at"
                    ),
                    {
                        "id": uuid.uuid4(),
                        "t": tenant,
                        "u": target.url,
                        "s": secret,
                        "f": flt,
                        "task": task_id,
                        "labels": json.dumps(labels),
                    },
                )
            ).one()
        log.info("webhook created", tenant_id=tenant, webhook_id=str(row.id), host=target.host, filter=flt)
        return webhook_proto(row, secret)

    @rpc
    async def ListWebhooks(
        self, request: npb.ListWebhooksRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> npb.ListWebhooksResponse:
        size = paging.page_size(
            request.page_size, default=self.settings.default_page_size, maximum=self.settings.max_page_size
        )
        fp = paging.fingerprint("ListWebhooks", caller.tenant_id, {})
        after = validation.time_cursor(paging.decode_token(request.page_token, fp))
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT id, url, filter, task_id, labels, created_at FROM webhooks WHERE tenant_id = :t "
                        "AND (CAST(:after_at AS timestamptz) IS NULL "
                        "     OR (created_at, id) < (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid))) "
                        "ORDER BY created_at DESC, id DESC LIMIT :n"
                    ),
                    {
                        "t": caller.tenant_id,
                        "after_at": after[0] if after else None,
                        "after_id": after[1] if after else None,
                        "n": size + 1,
                    },
                )
            ).all()
        token = ""
        if len(rows) > size:
            last = rows[size - 1]
            token = paging.encode_token(fp, [last.created_at.isoformat(), str(last.id)])
        return npb.ListWebhooksResponse(webhooks=[webhook_proto(r) for r in rows[:size]], next_page_token=token)

    @rpc
    async def DeleteWebhook(
        self, request: npb.DeleteWebhookRequest, context: grpc.aio.ServicerContext, caller: Caller
    ) -> npb.DeleteWebhookResponse:
        await self._delete("webhooks", "webhook", request.id, caller.tenant_id)
        return npb.DeleteWebhookResponse()

    async def _delete(self, table: str, what: str, id: str, tenant: str) -> None:
        """Delete one of the caller's destinations; what was still pending for it is given up."""
        did = check_id("id", id)
        async with self.engine.begin() as conn:
            res = await conn.execute(
                text(f"DELETE FROM {table} WHERE id = :id AND tenant_id = :t"), {"id": did, "t": tenant}
            )
            if not res.rowcount:
                raise NotFoundError(f"{what} {did} not found")
            await conn.execute(
                text(
                    "UPDATE deliveries SET status = 'failed', last_error = :err, updated_at = now() "
                    "WHERE destination_id = :id AND status = 'pending'"
                ),
                {"id": did, "err": f"the {what} was deleted"},
            )
        log.info(f"{what} deleted", tenant_id=tenant, destination_id=str(did))
