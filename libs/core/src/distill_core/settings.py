"""Typed settings: one shared base, one subclass per service, all read from DISTILL_* variables."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Stage = Literal["parse", "ai", "notion"]


class StageSettings(BaseSettings):
    """How one stage's runner behaves (DISTILL_PARSER_*, DISTILL_AI_*, DISTILL_NOTION_* variables)."""

    model_config = SettingsConfigDict(extra="ignore")

    concurrency: int = Field(16, ge=1, le=4096, description="Jobs handled at once per process.")
    batch_size: int = Field(128, ge=1, le=1024, description="Jobs pulled per fetch.")
    timeout: float = Field(60.0, gt=0, description="Seconds one attempt may take.")
    max_attempts: int = Field(4, ge=1, le=100, description="Attempts before a retryable failure is final.")
    backoff: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [5.0, 30.0, 300.0], description="Delay before attempt 2, 3, ... (seconds)."
    )
    backoff_jitter: float = Field(0.2, ge=0, le=1, description="Random share added to or taken from a delay.")
    ack_wait: float = Field(0.0, ge=0, description="JetStream ack wait; 0 means timeout + 30 s.")

    @field_validator("backoff", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [float(x) for x in v.replace(";", ",").split(",") if x.strip()]
        return v

    @property
    def effective_ack_wait(self) -> float:
        return self.ack_wait or self.timeout + 30.0


SERVICE_OF_STAGE = {"parse": "parser", "ai": "ai", "notion": "notion"}


def _stage_settings(stage: str, **defaults: Any) -> StageSettings:
    """Read DISTILL_<SERVICE>_* (PARSER, AI, NOTION) over the stage's own defaults."""

    class _S(StageSettings):
        model_config = SettingsConfigDict(env_prefix=f"DISTILL_{SERVICE_OF_STAGE[stage].upper()}_", extra="ignore")

    s = _S()
    unset = {k: v for k, v in defaults.items() if k not in s.model_fields_set}
    return StageSettings.model_validate({**s.model_dump(), **unset})


class Settings(BaseSettings):
    """Settings every service reads (DISTILL_* variables)."""

    model_config = SettingsConfigDict(env_prefix="DISTILL_", extra="ignore")

    nats_url: str = Field("nats://127.0.0.1:4222", description="NATS server URL(s), comma separated.")
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    nats_creds: Path | None = Field(None, description="NATS credentials file (nkey/JWT).")
    database_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/distill", description="SQLAlchemy URL (asyncpg)."
    )
    database_pool_size: int = Field(10, ge=1, le=200)

    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"

    service_name: str = "distill"
    metrics_port: int = Field(0, ge=0, le=65535, description="Prometheus /metrics port; 0 disables.")
    health_port: int = Field(0, ge=0, le=65535, description="gRPC health port of a worker; 0 picks one.")
    grpc_host: str = "127.0.0.1"

    # Stream tuning.
    jobs_sync_always: bool = Field(False, description="fsync the JOBS stream on every write (see docs).")
    events_max_age: float = Field(7 * 24 * 3600.0, gt=0, description="Seconds events are kept.")
    dead_letter_max_age: float = Field(30 * 24 * 3600.0, gt=0)
    stream_replicas: int = Field(1, ge=1, le=5)
    worker_ttl: float = Field(15.0, gt=0, description="Seconds before a silent worker is gone.")
    upload_store_max_bytes: int = Field(
        0, ge=0, description="Bytes the uploaded-files bucket may hold in all (0: no limit; full: uploads refused)."
    )

    data_dir: Path = Field(Path("./.data"), description="Local state of the embedded default.")

    parse: StageSettings = Field(default_factory=lambda: _stage_settings("parse", concurrency=32, timeout=60))
    ai: StageSettings = Field(default_factory=lambda: _stage_settings("ai", concurrency=4, timeout=300))
    notion: StageSettings = Field(default_factory=lambda: _stage_settings("notion", concurrency=8, timeout=120))

    def stage(self, name: str) -> StageSettings:
        return getattr(self, name)

    @cached_property
    def nats_servers(self) -> list[str]:
        return [u.strip() for u in self.nats_url.split(",") if u.strip()]


class GatewaySettings(Settings):
    """The gateway (DISTILL_GATEWAY_* for its own knobs)."""

    grpc_port: int = Field(50051, ge=0, le=65535)
    http_port: int = Field(
        0, ge=0, le=65535, description="Port of the HTTP side (JSON API, SSE, dashboard) on grpc_host; 0 turns it off."
    )
    max_urls_per_task: int = Field(1000, ge=1)
    max_url_length: int = Field(2048, ge=16)
    max_page_size: int = Field(1000, ge=1)
    default_page_size: int = Field(50, ge=1)
    outbox_delay: float = Field(5.0, gt=0, description="Seconds before the relay re-publishes undispatched items.")
    outbox_interval: float = Field(2.0, gt=0)
    watch_heartbeat: float = Field(10.0, gt=0, description="Seconds of silence before a HEARTBEAT event.")
    retention_days: float = Field(7.0, gt=0, description="Days a succeeded or cancelled task is kept.")
    retention_failed_days: float = Field(30.0, gt=0, description="Days a failed or partially failed task is kept.")
    janitor_interval: float = Field(60.0, gt=0, description="Seconds between janitor rounds.")
    queue_metrics_interval: float = Field(
        15.0, gt=0, description="Seconds between readings of the queue and worker gauges (/metrics)."
    )
    orphan_grace: float = Field(
        60.0, gt=0, description="Seconds an unfinished item may sit at an idle stage before its job is re-published."
    )
    dev_api_key: SecretStr | None = None

    # Uploads (UploadFiles, docs/files.md): checked while the bytes arrive.
    upload_max_file_bytes: int = Field(25 * 1024 * 1024, ge=1, description="Largest uploaded file (bytes).")
    upload_max_task_bytes: int = Field(100 * 1024 * 1024, ge=1, description="Most bytes one upload may bring.")
    upload_max_files: int = Field(100, ge=1, description="Most files (and URLs) in one upload.")
    upload_timeout: float = Field(600.0, gt=0, description="Seconds an UploadFiles call may take.")
    upload_content_types: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "image/png", "image/jpeg", "image/webp", "image/tiff", "application/pdf",
            "text/plain", "text/markdown", "text/html",
        ],
        description="Content types UploadFiles accepts (comma separated).",
    )  # fmt: skip

    # Reports (docs/reports.md); the worker's own knobs are the export service's DISTILL_REPORT_*.
    report_inline_bytes: int = Field(
        1024 * 1024, ge=0, le=16 * 1024 * 1024, description="GetReport carries a report's content up to this size."
    )
    report_max_active: int = Field(8, ge=1, description="Reports a tenant may have queued or running at once.")
    report_keep_per_task: int = Field(
        10, ge=1, description="Finished reports kept per task; a new one removes the oldest beyond this."
    )
    report_stale_after: float = Field(
        600.0, gt=0, description="Seconds a queued or running report may sit idle before its job is re-published."
    )

    # Limits and transport security (docs/security.md).
    max_request_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024, description="Largest request message accepted (bytes)."
    )
    create_task_rate: float = Field(
        50.0, ge=0, description="CreateTask calls per second per tenant, sustained, over all replicas (0: no limit)."
    )
    create_task_burst: int = Field(500, ge=1, description="CreateTask calls a tenant may make at once above the rate.")
    auth_cache_seconds: float = Field(
        10.0,
        ge=0,
        description="Seconds a verified API key is kept in memory (dropped at once when any key changes; 0: never).",
    )
    tls_cert_file: Path | None = Field(None, description="PEM certificate chain of the gRPC server: TLS on.")
    tls_key_file: Path | None = Field(None, description="PEM private key of tls_cert_file.")
    tls_client_ca_file: Path | None = Field(
        None, description="PEM CA bundle: clients must present a certificate it signed (mTLS)."
    )

    @field_validator("upload_content_types", mode="before")
    @classmethod
    def _split_types(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [x.strip().lower() for x in v.split(",") if x.strip()]
        return v

    @model_validator(mode="after")
    def _tls_files(self) -> GatewaySettings:
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ValueError("set both DISTILL_TLS_CERT_FILE and DISTILL_TLS_KEY_FILE (or neither)")
        if self.tls_client_ca_file and not self.tls_cert_file:
            raise ValueError(
                "DISTILL_TLS_CLIENT_CA_FILE (mTLS) needs TLS: set DISTILL_TLS_CERT_FILE and DISTILL_TLS_KEY_FILE"
            )
        return self
