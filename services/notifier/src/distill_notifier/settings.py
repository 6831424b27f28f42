"""Notifier settings (DISTILL_NOTIFIER_*, DISTILL_VAPID_*)."""

from __future__ import annotations

from typing import Annotated, Any

from distill_core.netguard import allow_private_networks
from distill_core.settings import Settings
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode


class NotifierSettings(Settings):
    notifier_timeout: float = Field(10.0, gt=0, description="Seconds one delivery attempt may take in all.")
    notifier_connect_timeout: float = Field(5.0, gt=0)
    notifier_max_attempts: int = Field(8, ge=1, le=100, description="Attempts before a delivery is given up.")
    notifier_backoff: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [2.0, 10.0, 60.0, 300.0, 900.0, 1800.0, 3600.0],
        description="Delay before attempt 2, 3, ... (seconds; the last one repeats).",
    )
    notifier_backoff_jitter: float = Field(0.2, ge=0, le=1)
    notifier_expire_after: float = Field(
        24 * 3600.0, gt=0, description="Seconds after which an undelivered notification is given up."
    )
    notifier_concurrency: int = Field(32, ge=1, le=4096, description="Deliveries in flight at once.")
    notifier_per_destination: int = Field(
        4, ge=1, le=256, description="Deliveries in flight at once to one webhook or subscription."
    )
    notifier_poll_interval: float = Field(1.0, gt=0, description="Longest wait before looking for due retries.")
    notifier_ack_wait: float = Field(
        15.0, ge=1, description="Seconds before an event fetched but not recorded (a crashed notifier) is read again."
    )
    notifier_batch_size: int = Field(256, ge=1, le=1024, description="Events pulled per fetch.")
    notifier_batch_wait: float = Field(
        0.1,
        ge=0,
        le=5,
        description="Seconds to let events gather after a batch smaller than the batch size, so that a "
        "steady trickle is read in batches (the first event after a quiet spell is read at once).",
    )
    notifier_keep_days: float = Field(7.0, gt=0, description="Days finished delivery records are kept.")
    notifier_allow_private_networks: bool | None = Field(
        None,
        description="Allow webhooks and push endpoints on loopback/private addresses (default: as the parser).",
    )
    parser_allow_private_networks: bool = False
    notifier_user_agent: str = "Distill-Notifier/0.1"

    vapid_private_key: SecretStr | None = Field(
        None, description="VAPID private key, base64url of the raw 32-byte P-256 scalar (`distill keys vapid`)."
    )
    vapid_subject: str = Field(
        "mailto:distill@localhost", description="VAPID `sub` claim: a mailto: or https: contact for push services."
    )
    push_ttl: int = Field(24 * 3600, ge=0, description="Seconds a push service keeps a message for an offline browser.")

    @field_validator("notifier_backoff", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [float(x) for x in v.replace(";", ",").split(",") if x.strip()]
        return v

    @field_validator("notifier_backoff")
    @classmethod
    def _not_empty(cls, v: list[float]) -> list[float]:
        if not v or any(x < 0 for x in v):
            raise ValueError("give at least one delay, none negative")
        return v

    @property
    def allow_private(self) -> bool:
        return allow_private_networks(self.notifier_allow_private_networks, self.parser_allow_private_networks)

    @property
    def lease(self) -> float:
        """Seconds a claimed delivery stays invisible: after that a crashed sender's work is taken again."""
        return self.notifier_timeout + 5.0
