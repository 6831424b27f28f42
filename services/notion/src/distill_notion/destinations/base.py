"""What every destination supplies: publish one item's document, idempotently."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class ExportJob:
    """One item to publish: its document and the task's export options."""

    item_id: str
    tenant_id: str
    result_id: uuid.UUID  # the exports row id for this item, stage and generation
    doc: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1
    input: str = ""  # the item's input (failpoints match on it)
    progress: Callable[[int, str], Awaitable[None]] | None = None
    # The external id of the item's earlier export to this destination, read with the batch
    # when the job was claimed (`previous_known`); else the destination reads its ledger.
    previous: str | None = None
    previous_known: bool = False

    @property
    def include_text(self) -> bool:
        return self.options.get("include_text", True) is not False

    @property
    def properties(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.options.get("properties") or {}).items()}

    async def report(self, percent: int, message: str = "") -> None:
        if self.progress is not None:
            await self.progress(percent, message)


@dataclass
class Published:
    """Where the item went: the exports row's external id and URL."""

    external_id: str
    url: str | None
    note: str = ""


class Destination(Protocol):
    name: str

    async def publish(self, job: ExportJob) -> Published: ...

    async def close(self) -> None: ...
