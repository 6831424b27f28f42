"""Process entry point shared by every service: uvloop, logging, signals, clean exit."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable

from distill_core import tracing
from distill_core.logging import configure, get_logger
from distill_core.settings import Settings


def run(service: str, settings: Settings, main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `main(stop_event)` until it returns; SIGTERM / SIGINT set the event."""
    configure(service, settings.log_level, settings.log_format)
    log = get_logger(service)
    try:
        traced = tracing.configure(service)  # off unless the OTEL_* variables ask (tracing.py)
    except ValueError as e:
        log.error("bad tracing settings", error=str(e))
        sys.exit(2)
    if traced:
        log.info("tracing on", exporters=tracing.exporters_from_env(os.environ))
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    tune_gc()

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    try:
        asyncio.run(_main())
    except Exception:
        log.exception("service crashed")
        sys.exit(1)
    finally:
        tracing.shutdown()


def tune_gc() -> None:
    """Collect cycles less often than CPython's default (every 700 net allocations).

    A request or batch keeps thousands of objects alive at once (a 1,000-URL CreateTask:
    its rows, dicts and protobufs), so the default collects many times per request, each
    time traversing objects that are about to be freed by reference counting anyway: about
    a fifth of the gateway's CPU for such a call, measured. What start-up created (modules,
    schemas, descriptors) is frozen out of the collector's way too.
    """
    import gc

    gc.freeze()
    gc.set_threshold(50_000, 10, 10)


async def run_stage(stage_factory: Callable[[], object], settings: Settings, stop: asyncio.Event) -> None:
    """Run one stage worker: the runner plus a gRPC health endpoint and /metrics."""
    from distill_core import metrics
    from distill_core.grpc_server import GrpcServer
    from distill_core.runner import StageRunner

    log = get_logger("stage")
    stage = stage_factory()
    runner = StageRunner(stage, settings)  # type: ignore[arg-type]
    health = GrpcServer(settings.grpc_host, settings.health_port)
    await health.start()
    await health.set_serving(False)
    metrics.serve(settings.metrics_port, settings.grpc_host)
    log.info("listening", health_port=health.port, metrics_port=settings.metrics_port)
    start = asyncio.create_task(runner.start())
    stop_wait = asyncio.create_task(stop.wait())
    await asyncio.wait({start, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    if start.done() and start.exception() is None:
        await health.set_serving(True)
        await stop.wait()
    elif start.done():
        stop_wait.cancel()
        await health.stop(0)
        raise start.exception()  # type: ignore[misc]
    else:
        start.cancel()
    await health.set_serving(False)
    await runner.stop()
    await health.stop(1)
