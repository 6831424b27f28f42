"""Status names and roll-ups (pure functions; stored lower-case, exposed as proto enums)."""

from __future__ import annotations

from dataclasses import dataclass

from distill.v1 import task_pb2

ITEM_TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
TASK_TERMINAL = frozenset({"succeeded", "partially_failed", "failed", "cancelled"})

TASK_STATUS = {
    "queued": task_pb2.TASK_STATUS_QUEUED,
    "running": task_pb2.TASK_STATUS_RUNNING,
    "succeeded": task_pb2.TASK_STATUS_SUCCEEDED,
    "partially_failed": task_pb2.TASK_STATUS_PARTIALLY_FAILED,
    "failed": task_pb2.TASK_STATUS_FAILED,
    "cancelled": task_pb2.TASK_STATUS_CANCELLED,
}
ITEM_STATUS = {
    "pending": task_pb2.ITEM_STATUS_PENDING,
    "running": task_pb2.ITEM_STATUS_RUNNING,
    "succeeded": task_pb2.ITEM_STATUS_SUCCEEDED,
    "failed": task_pb2.ITEM_STATUS_FAILED,
    "cancelled": task_pb2.ITEM_STATUS_CANCELLED,
}
PHASE_STATUS = {
    "pending": task_pb2.PHASE_STATUS_PENDING,
    "running": task_pb2.PHASE_STATUS_RUNNING,
    "retrying": task_pb2.PHASE_STATUS_RETRYING,
    "succeeded": task_pb2.PHASE_STATUS_SUCCEEDED,
    "failed": task_pb2.PHASE_STATUS_FAILED,
    "cancelled": task_pb2.PHASE_STATUS_CANCELLED,
}
TASK_STATUS_NAME = {v: k for k, v in TASK_STATUS.items()}
ITEM_STATUS_NAME = {v: k for k, v in ITEM_STATUS.items()}
INPUT_KIND = {
    "url": task_pb2.INPUT_KIND_URL,
    "parsed_content": task_pb2.INPUT_KIND_PARSED_CONTENT,
    "ai_content": task_pb2.INPUT_KIND_AI_CONTENT,
    "file": task_pb2.INPUT_KIND_FILE,
}


@dataclass(frozen=True)
class Counts:
    total: int = 0
    pending: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed + self.cancelled

    @property
    def progress(self) -> int:
        """Share of items in a terminal state, 0-100 (rounded down, 100 only when all are)."""
        return 100 * self.finished // self.total if self.total else 100

    @property
    def done(self) -> bool:
        return self.finished >= self.total


def rollup(c: Counts, *, cancel_requested: bool = False) -> str:
    """The task status implied by its items' counts."""
    if not c.done:
        if cancel_requested:
            return "cancelled"
        return "running" if (c.running or c.finished) else "queued"
    if c.total == 0 or c.succeeded == c.total:
        return "succeeded"
    if cancel_requested or (c.succeeded == 0 and c.failed == 0):
        return "cancelled"
    if c.succeeded == 0:
        return "failed"
    return "partially_failed"
