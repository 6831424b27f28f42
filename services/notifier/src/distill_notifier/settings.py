"""Notifier settings (DISTILL_NOTIFIER_*)."""

from __future__ import annotations

from typing import Annotated

from distill_core.settings import Settings
from pydantic import Field, field_validator
from pydantic_settings import NoDecode


class NotifierSettings(Settings):
    notifier_webhooks: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Webhook URLs that receive every event (comma separated)."
    )
    notifier_timeout: float = Field(10.0, gt=0)
    notifier_max_attempts: int = Field(5, ge=1)
    notifier_concurrency: int = Field(32, ge=1)

    @field_validator("notifier_webhooks", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str):
            return [u.strip() for u in v.split(",") if u.strip()]
        return v
