"""SQLAlchemy models. Every row that belongs to someone carries `tenant_id`.

Status columns hold lower-case names ("pending", "running", ...); the gateway maps them
to the proto enums. Content lives here, never in NATS messages.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSONB, list[str]: ARRAY(Text), datetime: DateTime(timezone=True)}


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = _now()


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    # The first characters of the key, shown in listings and used to find the row.
    prefix: Mapped[str] = mapped_column(String(32), index=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    # May see deployment-wide views (ListWorkers, GetQueueStats); tenant data stays the tenant's.
    admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_tenant_created", "tenant_id", text("created_at DESC"), text("id DESC")),
        Index(
            "uq_tasks_tenant_idempotency",
            "tenant_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
        Index("ix_tasks_labels", "labels", postgresql_using="gin"),
        Index("ix_tasks_open", "status", postgresql_where=text("finished_at IS NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(32), default="queued")
    input_kind: Mapped[str] = mapped_column(String(32))
    stages: Mapped[list[str]]
    ai_options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    export_options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    total: Mapped[int] = mapped_column(Integer, default=0)
    trace: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        Index("ix_items_task_position", "task_id", "position"),
        # The outbox: items accepted but not yet handed to JetStream.
        Index("ix_items_undispatched", "created_at", postgresql_where=text("dispatched_at IS NULL")),
        Index("ix_items_tenant_status", "tenant_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    input_kind: Mapped[str] = mapped_column(String(32))
    input: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), default="pending")
    current_stage: Mapped[str] = mapped_column(String(32))
    # Bumped by RetryTask: part of the job's Nats-Msg-Id.
    generation: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[dict[str, Any] | None]
    title: Mapped[str | None] = mapped_column(Text)
    parsed_content_id: Mapped[uuid.UUID | None]
    ai_output_id: Mapped[uuid.UUID | None]
    export_id: Mapped[uuid.UUID | None]
    dispatched_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    finished_at: Mapped[datetime | None]


class Phase(Base):
    """One stage of one item: created when the stage first starts."""

    __tablename__ = "phases"
    __table_args__ = (
        Index("ix_phases_finished", "finished_at"),
        Index("ix_phases_task", "task_id"),
    )

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(32), primary_key=True)
    task_id: Mapped[uuid.UUID]
    tenant_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), default="running")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Attempts re-run alone because the previous one died with its worker (poison detection).
    solo_runs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    error: Mapped[dict[str, Any] | None]
    error_code: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None] = mapped_column(Integer)


class ParsedContent(Base):
    __tablename__ = "parsed_contents"
    __table_args__ = (Index("ix_parsed_contents_tenant", "tenant_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    url: Mapped[str] = mapped_column(Text)
    final_url: Mapped[str | None] = mapped_column(Text)
    canonical_url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    byline: Mapped[str | None] = mapped_column(Text)
    site_name: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    language: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, default="")
    thumbnail_url: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(200))
    content_hash: Mapped[str | None] = mapped_column(String(128))
    word_count: Mapped[int] = mapped_column(Integer, default=0)
    structured: Mapped[dict[str, Any]] = mapped_column(default=dict)
    recipe: Mapped[dict[str, Any] | None]
    no_content: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = _now()


class AiOutput(Base):
    __tablename__ = "ai_outputs"
    __table_args__ = (Index("ix_ai_outputs_tenant", "tenant_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    parsed_content_id: Mapped[uuid.UUID | None]
    summary: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(default=list)
    insights: Mapped[list[str]] = mapped_column(default=list)
    recipe: Mapped[dict[str, Any] | None]
    provider: Mapped[str] = mapped_column(String(64), default="")
    model: Mapped[str] = mapped_column(String(200), default="")
    usage: Mapped[dict[str, Any]] = mapped_column(default=dict)
    no_content: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = _now()


class Export(Base):
    __tablename__ = "exports"
    __table_args__ = (UniqueConstraint("item_id", "destination", name="uq_exports_item_destination"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[uuid.UUID]
    destination: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    # The export ledger (services/notion ledger.py): creating | created | complete.
    state: Mapped[str | None] = mapped_column(String(16))
    target: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class RateLimit(Base):
    """A request budget shared by every replica (GCRA theoretical arrival time per key)."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    tat: Mapped[datetime] = _now()


class DeadLetter(Base):
    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_stage_created", "stage", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    task_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    item_id: Mapped[uuid.UUID | None]
    stage: Mapped[str] = mapped_column(String(32))
    error: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error_code: Mapped[str] = mapped_column(String(64))
    deliveries: Mapped[int] = mapped_column(Integer, default=0)
    job: Mapped[bytes] = mapped_column(LargeBinary)
    stream_seq: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = _now()


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(Text)
    filter: Mapped[str] = mapped_column(String(32), default="default")
    task_id: Mapped[uuid.UUID | None]
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = _now()


class PushSubscription(Base):
    __tablename__ = "push_subscriptions"
    __table_args__ = (UniqueConstraint("tenant_id", "endpoint", name="uq_push_subscriptions_tenant_endpoint"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    endpoint: Mapped[str] = mapped_column(Text)
    p256dh: Mapped[str] = mapped_column(Text)
    auth: Mapped[str] = mapped_column(Text)
    filter: Mapped[str] = mapped_column(String(32), default="default")
    task_id: Mapped[uuid.UUID | None]
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = _now()


class Delivery(Base):
    """One notification to one destination (webhook or push), deduplicated by event id."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("destination_id", "event_id", name="uq_deliveries_destination_event"),
        # The notifier's work queue: pending deliveries by when they are due (see distill_notifier.queue).
        Index("ix_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        Index(
            "ix_deliveries_destination_due",
            "destination_id",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_deliveries_updated", "updated_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    destination_id: Mapped[uuid.UUID]
    event_id: Mapped[str] = mapped_column(String(128))
    # pending (due at next_attempt_at) | delivered | failed (given up, see last_error)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    delivered_at: Mapped[datetime | None]
    event_type: Mapped[str] = mapped_column(String(32), default="", server_default="")
    # The exact JSON sent (webhook body, or the push payload before encryption).
    body: Mapped[str] = mapped_column(Text, default="", server_default="")
    next_attempt_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class Report(Base):
    """A task's results as one file (PDF, Markdown, JSON): a small job of its own.

    The content lives here (bytea, stored uncompressed out of line so DownloadReport can
    read it in slices); the row goes when its task goes (ON DELETE CASCADE).
    """

    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_task_created", "task_id", "created_at"),
        Index("ix_reports_active", "tenant_id", "updated_at", postgresql_where=text("status IN ('queued', 'running')")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    # pdf | markdown | json
    format: Mapped[str] = mapped_column(String(16))
    # queued | running | succeeded | failed
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[dict[str, Any] | None]
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    item_count: Mapped[int | None] = mapped_column(Integer)
    task_status: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class Upload(Base):
    """A file received by UploadFiles, stored in the JetStream Object Store (subjects.UPLOADS_BUCKET).

    Every stored object has a row: the row is written before the first byte is stored and
    deleted only after the object is. `task_id` is set in the transaction that creates the
    task, and becomes NULL when the task goes by any path; rows without a task (and uploads
    that never finished) are what the janitor deletes, object first.
    """

    __tablename__ = "uploads"
    __table_args__ = (
        Index("ix_uploads_task", "task_id"),
        Index("ix_uploads_unowned", "created_at", postgresql_where=text("task_id IS NULL")),
    )

    # The object's name in the bucket (and the id in the item's input, upload://<id>/<name>).
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    file_name: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
    # When the task took it (NULL while the upload is still streaming).
    attached_at: Mapped[datetime | None]
