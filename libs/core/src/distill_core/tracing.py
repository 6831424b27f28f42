"""OpenTelemetry tracing: one trace per task, from CreateTask through every stage of each item.

Off by default, and then next to free: `span()` hands back one shared no-op context and
nothing is recorded. The standard variables turn it on (read by `configure`):

* `OTEL_TRACES_EXPORTER` = `otlp`, `console` or `none` (a comma-separated list is allowed);
  unset, tracing is on only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`)
  is set, and then exports OTLP;
* `OTEL_EXPORTER_OTLP_PROTOCOL` (or `..._TRACES_PROTOCOL`) = `grpc` (default) or
  `http/protobuf`; the OTLP exporters read their own endpoint, headers, timeout and TLS
  variables; `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER[_ARG]`
  and `OTEL_PROPAGATORS` as the SDK defines them; `OTEL_SDK_DISABLED=true` turns it off.

How the context travels (W3C trace context, `traceparent` / `tracestate`):

* gRPC: the gateway's server span continues a `traceparent` the client sent in metadata;
* the task: CreateTask stores the context in `tasks.trace`, so the jobs the outbox relay,
  the janitor and RetryTask publish later still belong to the task's trace;
* NATS: every job carries it in `Job.trace` and in its message headers; each stage's span
  is a child of the job's context, and the next stage's job carries that span's context.

With tracing off the gateway still gives each task a trace id (not sampled), so the log
lines of one task carry one `trace_id` across every service.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

EXPORTERS = ("otlp", "console", "none")
PROTOCOLS = ("grpc", "http/protobuf")
CARRIER_KEYS = ("traceparent", "tracestate")
# gRPC codes that are the server's fault (OpenTelemetry's RPC conventions): the span is an error.
SERVER_ERROR_CODES = frozenset(
    {"UNKNOWN", "DEADLINE_EXCEEDED", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS"}
)

CLIENT = SpanKind.CLIENT  # for span(kind=...): a call to another service (fetch, LLM, Notion)
_NOOP = contextlib.nullcontext()
_tracer: trace.Tracer | None = None
_provider: Any = None


# --- configuration (pure parts first) ---------------------------------------------------


def exporters_from_env(env: Mapping[str, str]) -> list[str]:
    """The span exporters the standard variables ask for ([] = tracing off)."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    raw = env.get("OTEL_TRACES_EXPORTER", "").strip()
    if not raw:
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        return ["otlp"] if endpoint and endpoint.strip() else []
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in EXPORTERS]
    if unknown:
        raise ValueError(
            f"OTEL_TRACES_EXPORTER={raw!r}: {', '.join(unknown)} is not an exporter Distill has "
            f"(use {', '.join(EXPORTERS)})"
        )
    return [n for n in dict.fromkeys(names) if n != "none"]


def otlp_protocol(env: Mapping[str, str]) -> str:
    raw = (env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc").strip()
    if raw not in PROTOCOLS:
        raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL={raw!r} is not supported (use {' or '.join(PROTOCOLS)})")
    return raw


def _span_exporter(name: str, env: Mapping[str, str]) -> Any:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if otlp_protocol(env) == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # type: ignore[assignment]
    return OTLPSpanExporter()


def configure(service: str, env: Mapping[str, str] | None = None) -> bool:
    """Turn tracing on for this process if the OTEL_* variables ask for it. True when on."""
    env = os.environ if env is None else env
    names = exporters_from_env(env)
    if not names:
        return False
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({SERVICE_NAME: env.get("OTEL_SERVICE_NAME") or f"distill-{service}"})
    provider = TracerProvider(resource=resource)  # the sampler comes from OTEL_TRACES_SAMPLER
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_span_exporter(name, env)))
    install(provider)
    trace.set_tracer_provider(provider)  # for any library instrumentation in the process
    return True


def install(provider: Any) -> None:
    """Record spans with this TracerProvider (tests pass one with an in-memory exporter)."""
    global _tracer, _provider
    _provider = provider
    _tracer = provider.get_tracer("distill")


def uninstall() -> None:
    """Back to off (tests)."""
    global _tracer, _provider
    _tracer = _provider = None


def shutdown() -> None:
    """Send what is still buffered (at process exit)."""
    if _provider is not None:
        with contextlib.suppress(Exception):
            _provider.shutdown()


def enabled() -> bool:
    return _tracer is not None


# --- trace context: parsing, carriers -----------------------------------------------------


def parse_traceparent(value: str | None) -> tuple[str, str, int] | None:
    """(trace id, parent span id, flags) of a W3C traceparent, or None when it is not one."""
    if not value or len(value) < 55:
        return None
    parts = value.strip().split("-")
    if len(parts) < 4 or len(parts[0]) != 2 or parts[0] == "ff" or (parts[0] == "00" and len(parts) != 4):
        return None
    version, tid, sid, flags = parts[0], parts[1], parts[2], parts[3]
    try:
        int(version, 16)
        ok = len(tid) == 32 and len(sid) == 16 and len(flags) == 2 and int(tid, 16) != 0 and int(sid, 16) != 0
        return (tid.lower(), sid.lower(), int(flags, 16)) if ok else None
    except ValueError:
        return None


def trace_id(carrier: Mapping[str, str] | None) -> str | None:
    """The trace id in a carrier (job.trace, task.trace, headers), for log lines."""
    tp = carrier.get("traceparent") if carrier else None
    return tp[3:35] if tp and len(tp) >= 55 else None


def new_traceparent(rng: random.Random | None = None) -> str:
    """A fresh, not-sampled traceparent: a trace id for the logs when tracing is off."""
    r = rng or random
    return f"00-{r.getrandbits(128) or 1:032x}-{r.getrandbits(64) or 1:016x}-00"


def carrier_from_metadata(metadata: Iterable[Any] | None) -> dict[str, str]:
    """traceparent / tracestate from gRPC metadata ((key, value) pairs), if the traceparent is valid."""
    found: dict[str, str] = {}
    for key, value in metadata or ():
        if key in CARRIER_KEYS and isinstance(value, str):
            found[key] = value
    return found if parse_traceparent(found.get("traceparent")) else {}


def headers_of(carrier: Mapping[str, str] | None) -> dict[str, str]:
    """The NATS headers that carry a context (none for an empty carrier)."""
    if not carrier:
        return {}
    return {k: carrier[k] for k in CARRIER_KEYS if carrier.get(k)}


def _inject(span: Any = None) -> dict[str, str]:
    out: dict[str, str] = {}
    propagate.inject(out, context=trace.set_span_in_context(span) if span is not None else None)
    return out


def task_carrier(metadata: Iterable[Any] | None = None) -> dict[str, str]:
    """The trace context a new task stores (tasks.trace) and its jobs carry.

    Tracing on: the current span's (the CreateTask server span), or a short CreateTask span
    when there is none (calls from the HTTP side). Off: the client's traceparent, else a
    fresh not-sampled one, so that log lines still share a trace id.
    """
    incoming = carrier_from_metadata(metadata)
    if _tracer is not None:
        current = trace.get_current_span()
        if current.get_span_context().is_valid:
            return _inject()
        root = _tracer.start_span("CreateTask", context=propagate.extract(incoming), kind=SpanKind.SERVER)
        root.end()
        return _inject(root)
    return incoming or {"traceparent": new_traceparent()}


# --- spans ---------------------------------------------------------------------------------


def span(name: str, attributes: Mapping[str, Any] | None = None, kind: SpanKind = SpanKind.INTERNAL) -> Any:
    """A child span of the current one (a context manager; a shared no-op when tracing is off)."""
    if _tracer is None:
        return _NOOP
    return _tracer.start_as_current_span(name, kind=kind, attributes=_clean(attributes))


def set_attributes(sp: Any, attributes: Mapping[str, Any]) -> None:
    """Add attributes to a span that `span()` gave (nothing when tracing is off)."""
    if sp is not None:
        sp.set_attributes(_clean(attributes))


def _clean(attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not attributes:
        return None
    return {k: v for k, v in attributes.items() if v is not None and v != ""}


@contextlib.contextmanager
def _server_span(full_method: str, metadata: Iterable[Any] | None) -> Iterator[Any]:
    assert _tracer is not None
    service, _, method = full_method.lstrip("/").partition("/")
    attrs = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}
    parent = propagate.extract(carrier_from_metadata(metadata))
    with _tracer.start_as_current_span(
        f"{service}/{method}",
        context=parent,
        kind=SpanKind.SERVER,
        attributes=attrs,
        record_exception=False,
        set_status_on_exception=False,
    ) as sp:
        yield sp


def server_span(full_method: str, metadata: Iterable[Any] | None) -> Any:
    """The span of one RPC the server handles, continuing the client's traceparent."""
    return _NOOP if _tracer is None else _server_span(full_method, metadata)


def end_rpc(sp: Any, code: str) -> None:
    """Record an RPC's status code on its span (an error when it is the server's fault)."""
    if sp is None:
        return
    sp.set_attribute("rpc.grpc.status_code", code)
    if code in SERVER_ERROR_CODES:
        sp.set_status(Status(StatusCode.ERROR, code))


@contextlib.contextmanager
def _stage_span(ctx: Any) -> Iterator[Any]:
    assert _tracer is not None
    carrier = dict(ctx.job.trace) or dict(ctx.msg.headers or {})
    parent = propagate.extract(carrier)
    attrs = {
        "distill.stage": ctx.stage,
        "distill.task_id": ctx.task_id,
        "distill.item_id": ctx.item_id,
        "distill.attempt": ctx.attempt,
        "messaging.system": "nats",
    }
    if ctx.job.HasField("enqueue_time"):
        # Time in the queue (back-off waits included) as its own span, so a trace shows it.
        queued = _tracer.start_span(
            f"{ctx.stage} queued", context=parent, start_time=ctx.job.enqueue_time.ToNanoseconds(), attributes=attrs
        )
        queued.end(time.time_ns())
    with _tracer.start_as_current_span(ctx.stage, context=parent, kind=SpanKind.CONSUMER, attributes=attrs) as sp:
        ctx.trace = _inject()  # the next stage's job continues from this span
        try:
            yield sp
        except BaseException as e:
            sp.set_attribute("error.type", str(getattr(e, "code", "") or type(e).__name__))
            raise


def stage_span(ctx: Any) -> Any:
    """The span of one attempt of a stage on one item (runner), child of the job's context."""
    return _NOOP if _tracer is None else _stage_span(ctx)


def log_processor(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog: add the current span's trace_id and span_id (tracing on) unless bound already."""
    if _tracer is not None:
        sc = trace.get_current_span().get_span_context()
        if sc.is_valid:
            if not event.get("trace_id"):
                event["trace_id"] = format(sc.trace_id, "032x")
            event.setdefault("span_id", format(sc.span_id, "016x"))
    return event
