"""What a stage's handle() sees (JobContext) and returns (StageResult)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from distill.internal.v1 import jobs_pb2
from nats.aio.msg import Msg

# Namespace for ids derived from (item, stage): a redelivered job writes the same row.
RESULT_NAMESPACE = uuid.UUID("6c1f1b1e-4a7f-4f0e-9d7c-2b8e5d3f9a10")


def result_id(item_id: str, stage: str, generation: int = 0) -> uuid.UUID:
    """Deterministic id of the row a stage stores for an item (idempotent on redelivery)."""
    return uuid.uuid5(RESULT_NAMESPACE, f"{item_id}:{stage}:{generation}")


@dataclass(slots=True)
class StageResult:
    """A stage's output for one item.

    `row` is whatever the stage's persist() stores; the named id fields are written to
    the item in the same transaction.
    """

    row: dict[str, Any] = field(default_factory=dict)
    title: str | None = None
    parsed_content_id: uuid.UUID | None = None
    ai_output_id: uuid.UUID | None = None
    export_id: uuid.UUID | None = None
    message: str | None = None


@dataclass(eq=False)
class JobContext:
    """One claimed job: the item's row (with its task's options) and helpers."""

    msg: Msg
    job: jobs_pb2.Job
    stage: str
    item: dict[str, Any]
    attempt: int
    started: float = field(default_factory=time.monotonic)
    last_progress: float = 0.0  # when progress was last stored (monotonic; 0: not yet)
    cancel_reason: str | None = None
    _progress_cb: Callable[[JobContext, int, str], Awaitable[None]] | None = None
    task: asyncio.Task[Any] | None = None
    trace: dict[str, str] | None = None  # the context the next stage's job carries (tracing on)
    _log: Any = None

    @property
    def log(self) -> Any:
        """A logger bound to the job's ids (made on first use: most jobs never log)."""
        if self._log is None:
            from distill_core import tracing
            from distill_core.logging import get_logger

            self._log = get_logger("runner").bind(
                task_id=self.task_id,
                item_id=self.item_id,
                stage=self.stage,
                attempt=self.attempt,
                trace_id=tracing.trace_id(self.job.trace),
            )
        return self._log

    @property
    def item_id(self) -> str:
        return self.job.item_id

    @property
    def task_id(self) -> str:
        return self.job.task_id

    @property
    def tenant_id(self) -> str:
        return self.job.tenant_id

    @property
    def generation(self) -> int:
        return int(self.item.get("generation") or 0)

    @property
    def stages(self) -> list[str]:
        return list(self.item.get("stages") or [])

    @property
    def ai_options(self) -> dict[str, Any]:
        return dict(self.item.get("ai_options") or {})

    @property
    def export_options(self) -> dict[str, Any]:
        return dict(self.item.get("export_options") or {})

    def result_id(self) -> uuid.UUID:
        return result_id(self.item_id, self.stage, self.generation)

    async def progress(self, percent: int, message: str = "") -> None:
        """Report progress within the stage (stored and sent as an event, rate-limited: none
        in an attempt's first half second, then at most one every half second; 100 % always)."""
        if self._progress_cb is not None:
            await self._progress_cb(self, max(0, min(100, int(percent))), message)
