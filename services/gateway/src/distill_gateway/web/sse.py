"""Server-Sent Events framing for TaskEvents (pure functions; the HTML Living Standard's
`text/event-stream`).

Each TaskEvent becomes one SSE event named after its type (`snapshot`, `task`, `item`,
`ping`) whose `data` is the TaskEvent in JSON and whose `id` is its sequence, so a
reconnecting EventSource sends `Last-Event-ID: <sequence>` and the watch resumes right
after it (WatchTask's from_sequence) with nothing missed. A failure after the stream has
started is one `problem` event (RFC 9457 document) before the stream ends.
"""

from __future__ import annotations

from typing import Any

from distill.v1 import task_pb2
from distill_core.errors import InvalidInput

from distill_gateway.web.jsonmap import dumps, to_json

CONTENT_TYPE = "text/event-stream; charset=utf-8"
HEADERS = {
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
}
RETRY_MS = 2000  # how long an EventSource waits before it reconnects

EVENT_NAME = {
    task_pb2.EVENT_TYPE_SNAPSHOT: "snapshot",
    task_pb2.EVENT_TYPE_TASK_UPDATED: "task",
    task_pb2.EVENT_TYPE_ITEM_UPDATED: "item",
    task_pb2.EVENT_TYPE_HEARTBEAT: "ping",
}


def frame(event: str, data: str, *, id: int | None = None, retry: int | None = None) -> bytes:
    """One event. `data` is one line (JSON from `dumps`); a newline in it would split it."""
    lines = []
    if retry is not None:
        lines.append(f"retry: {retry}")
    if id is not None:
        lines.append(f"id: {id}")
    lines.append(f"event: {event}")
    lines += [f"data: {part}" for part in data.split("\n")]
    return ("\n".join(lines) + "\n\n").encode()


def event_frame(ev: task_pb2.TaskEvent, *, retry: int | None = None) -> bytes:
    return frame(EVENT_NAME.get(ev.type, "task"), dumps(to_json(ev)), id=ev.sequence, retry=retry)


def problem_frame(document: dict[str, Any]) -> bytes:
    return frame("problem", dumps(document))


def resume_sequence(last_event_id: str | None, from_sequence: str | None) -> int:
    """The sequence to resume after: the `Last-Event-ID` header, else `?from_sequence=`, else 0."""
    for field, raw in (("Last-Event-ID", last_event_id), ("from_sequence", from_sequence)):
        if raw is not None and raw.strip():
            value = raw.strip()
            if not value.isdigit() or len(value) > 20 or int(value) >= 2**64:
                raise InvalidInput(f"{field}: {raw[:40]!r} is not an event sequence (a whole number)")
            return int(value)
    return 0
