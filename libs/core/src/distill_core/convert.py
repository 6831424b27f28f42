"""Database rows (mappings) to distill.v1 messages, shared by the gateway and the events."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from distill.v1 import common_pb2, task_pb2
from google.protobuf import json_format
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp

from distill_core.status import INPUT_KIND, ITEM_STATUS, PHASE_STATUS, TASK_STATUS, Counts
from distill_core.subjects import PRIORITY_ENUM, STAGE_ENUM

EXCERPT_CHARS = 500
DESTINATION_ENUM = {"notion": common_pb2.DESTINATION_NOTION, "markdown": common_pb2.DESTINATION_MARKDOWN}
DESTINATION_NAME = {v: k for k, v in DESTINATION_ENUM.items()}


def ts(dt: datetime | None) -> Timestamp | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        t = Timestamp()
        t.FromDatetime(dt)
        return t
    # Aware datetimes (all of ours): direct arithmetic, several times cheaper than FromDatetime.
    secs = dt.timestamp()
    whole = int(secs // 1)
    return Timestamp(seconds=whole, nanos=dt.microsecond * 1000)


def error_to_proto(err: Mapping[str, Any] | None) -> common_pb2.ErrorInfo | None:
    if not err:
        return None
    e = common_pb2.ErrorInfo(
        code=str(err.get("code", "")),
        message=str(err.get("message", "")),
        retryable=bool(err.get("retryable", False)),
        stage=STAGE_ENUM.get(str(err.get("stage", "")), 0),  # type: ignore[arg-type]
        attempt=int(err.get("attempt", 0) or 0),
        details={str(k): str(v) for k, v in (err.get("details") or {}).items()},
    )
    if err.get("at"):
        e.occur_time.FromJsonString(str(err["at"]))
    return e


def phase_to_proto(p: Mapping[str, Any]) -> task_pb2.Phase:
    return task_pb2.Phase(
        stage=STAGE_ENUM.get(p["stage"], 0),  # type: ignore[arg-type]
        status=PHASE_STATUS.get(p["status"], 0),  # type: ignore[arg-type]
        attempts=int(p.get("attempts") or 0),
        start_time=ts(p.get("started_at")),
        finish_time=ts(p.get("finished_at")),
        progress=int(p.get("progress") or 0),
        error=error_to_proto(p.get("error")),
        message=p.get("message") or "",
    )


def ai_options_to_proto(d: Mapping[str, Any] | None) -> common_pb2.AiOptions:
    m = common_pb2.AiOptions()
    for k, v in (d or {}).items():
        if v is not None and k in m.DESCRIPTOR.fields_by_name:
            setattr(m, k, v)
    return m


def ai_options_from_proto(m: common_pb2.AiOptions) -> dict[str, Any]:
    out: dict[str, Any] = {"model": m.model}
    for f in ("generate_summary", "generate_keywords", "generate_insights", "extract_recipe"):
        if m.HasField(f):
            out[f] = getattr(m, f)
    return out


def export_options_to_proto(d: Mapping[str, Any] | None) -> common_pb2.ExportOptions:
    d = d or {}
    m = common_pb2.ExportOptions(
        destination=DESTINATION_ENUM.get(d.get("destination") or "", 0),  # type: ignore[arg-type]
        notion_database_id=d.get("notion_database_id") or "",
        properties=d.get("properties") or {},
    )
    if d.get("include_text") is not None:
        m.include_text = bool(d["include_text"])
    return m


def export_options_from_proto(m: common_pb2.ExportOptions) -> dict[str, Any]:
    out: dict[str, Any] = {
        "destination": DESTINATION_NAME.get(m.destination),
        "notion_database_id": m.notion_database_id or None,
        "properties": dict(m.properties),
    }
    if m.HasField("include_text"):
        out["include_text"] = m.include_text
    return {k: v for k, v in out.items() if v not in (None, {})}


def counts_to_proto(c: Counts) -> task_pb2.TaskCounts:
    return task_pb2.TaskCounts(
        total=c.total,
        pending=c.pending,
        running=c.running,
        succeeded=c.succeeded,
        failed=c.failed,
        cancelled=c.cancelled,
    )


def task_to_proto(
    t: Mapping[str, Any], counts: Counts | None = None, items: Iterable[task_pb2.Item] = ()
) -> task_pb2.Task:
    counts = counts or Counts(total=int(t.get("total") or 0))
    m = task_pb2.Task(
        id=str(t["id"]),
        status=TASK_STATUS.get(t["status"], 0),  # type: ignore[arg-type]
        counts=counts_to_proto(counts),
        progress=counts.progress,
        input_kind=INPUT_KIND.get(t.get("input_kind") or "", 0),  # type: ignore[arg-type]
        stages=[STAGE_ENUM[s] for s in t.get("stages") or []],  # type: ignore[misc]
        ai=ai_options_to_proto(t.get("ai_options")),
        export=export_options_to_proto(t.get("export_options")),
        priority=PRIORITY_ENUM.get(t.get("priority") or "normal", 0),  # type: ignore[arg-type]
        idempotency_key=t.get("idempotency_key") or "",
        labels={str(k): str(v) for k, v in (t.get("labels") or {}).items()},
        create_time=ts(t.get("created_at")),
        update_time=ts(t.get("updated_at")),
        start_time=ts(t.get("started_at")),
        finish_time=ts(t.get("finished_at")),
    )
    m.items.extend(items)
    return m


def recipe_to_proto(r: Mapping[str, Any] | None) -> common_pb2.Recipe | None:
    if not r:
        return None
    m = common_pb2.Recipe()
    json_format.ParseDict(
        {k: v for k, v in r.items() if k in m.DESCRIPTOR.fields_by_name and v not in (None, "")},
        m,
        ignore_unknown_fields=True,
    )
    return m


def parsed_to_proto(p: Mapping[str, Any], full: bool = False) -> task_pb2.ParsedContent:
    text = p.get("text") or ""
    m = task_pb2.ParsedContent(
        id=str(p["id"]),
        url=p.get("url") or "",
        final_url=p.get("final_url") or "",
        canonical_url=p.get("canonical_url") or "",
        title=p.get("title") or "",
        byline=p.get("byline") or "",
        site_name=p.get("site_name") or "",
        publish_time=ts(p.get("published_at")),
        language=p.get("language") or "",
        excerpt=text[:EXCERPT_CHARS],
        text=text if full else "",
        thumbnail_url=p.get("thumbnail_url") or "",
        content_type=p.get("content_type") or "",
        content_hash=p.get("content_hash") or "",
        word_count=int(p.get("word_count") or 0),
        recipe=recipe_to_proto(p.get("recipe")),
        no_content=bool(p.get("no_content")),
        description=p.get("description") or "",
    )
    if full and p.get("structured"):
        s = Struct()
        s.update(_jsonable(p["structured"]))
        m.structured_data.CopyFrom(s)
    return m


def ai_to_proto(a: Mapping[str, Any]) -> task_pb2.AiOutput:
    u = a.get("usage") or {}
    return task_pb2.AiOutput(
        id=str(a["id"]),
        summary=a.get("summary") or "",
        keywords=list(a.get("keywords") or []),
        insights=list(a.get("insights") or []),
        recipe=recipe_to_proto(a.get("recipe")),
        provider=a.get("provider") or "",
        model=a.get("model") or "",
        usage=common_pb2.AiUsage(
            prompt_tokens=int(u.get("prompt_tokens", 0)),
            completion_tokens=int(u.get("completion_tokens", 0)),
            requests=int(u.get("requests", 0)),
            latency_ms=int(u.get("latency_ms", 0)),
        ),
        no_content=bool(a.get("no_content")),
    )


def export_to_proto(e: Mapping[str, Any]) -> task_pb2.ExportResult:
    return task_pb2.ExportResult(
        destination=DESTINATION_ENUM.get(e.get("destination") or "", 0),  # type: ignore[arg-type]
        url=e.get("url") or "",
        external_id=e.get("external_id") or "",
        export_time=ts(e.get("updated_at") or e.get("created_at")),
    )


def item_to_proto(
    i: Mapping[str, Any],
    phases: Iterable[Mapping[str, Any]] = (),
    *,
    parsed: Mapping[str, Any] | None = None,
    ai: Mapping[str, Any] | None = None,
    export: Mapping[str, Any] | None = None,
    full: bool = False,
) -> task_pb2.Item:
    order = {s: n for n, s in enumerate(STAGE_ENUM)}
    m = task_pb2.Item(
        id=str(i["id"]),
        task_id=str(i["task_id"]),
        input_kind=INPUT_KIND.get(i.get("input_kind") or "", 0),  # type: ignore[arg-type]
        input=i.get("input") or "",
        status=ITEM_STATUS.get(i["status"], 0),  # type: ignore[arg-type]
        current_stage=STAGE_ENUM.get(i.get("current_stage") or "", 0),  # type: ignore[arg-type]
        phases=[phase_to_proto(p) for p in sorted(phases, key=lambda p: order.get(p["stage"], 9))],
        error=error_to_proto(i.get("error")),
        title=i.get("title") or "",
        create_time=ts(i.get("created_at")),
        update_time=ts(i.get("updated_at")),
        finish_time=ts(i.get("finished_at")),
        position=int(i.get("position") or 0),
    )
    if parsed:
        m.parsed.CopyFrom(parsed_to_proto(parsed, full))
    if ai:
        m.ai.CopyFrom(ai_to_proto(ai))
    if export:
        m.export.CopyFrom(export_to_proto(export))
    return m


def _jsonable(v: Any) -> Any:
    """Struct-safe copy: dict keys as str, numbers as float-able, others as str."""
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if v is None or isinstance(v, bool | int | float | str):
        return v
    return str(v)
