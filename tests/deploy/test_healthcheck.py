"""deploy/healthcheck.py (the images' HEALTHCHECK) against a real gRPC health server."""

from __future__ import annotations

import asyncio
import os
import sys

from distill_core.grpc_server import GrpcServer

from tests.deploy.manifests import ROOT

SCRIPT = ROOT / "deploy" / "healthcheck.py"


async def run_check(env: dict[str, str]) -> tuple[int, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DISTILL_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), env={**base, **env}, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode or 0, err.decode()


async def test_exit_code_follows_the_health_status() -> None:
    server = GrpcServer("127.0.0.1", 0)
    await server.start()
    try:
        await server.set_serving(True)
        assert await run_check({"DISTILL_HEALTH_PORT": str(server.port)}) == (0, f"port {server.port}: SERVING\n")
        # The gateway's image sets DISTILL_GRPC_PORT; it wins over the worker's health port.
        code, _ = await run_check({"DISTILL_GRPC_PORT": str(server.port), "DISTILL_HEALTH_PORT": "1"})
        assert code == 0
        await server.set_serving(False)
        code, err = await run_check({"DISTILL_HEALTH_PORT": str(server.port)})
        assert code == 1 and "NOT_SERVING" in err
    finally:
        await server.stop(0)
    code, err = await run_check({"DISTILL_HEALTH_PORT": str(server.port)})
    assert code == 1 and "UNAVAILABLE" in err


async def test_a_missing_port_is_reported() -> None:
    code, err = await run_check({})
    assert code == 1 and "set DISTILL_GRPC_PORT or DISTILL_HEALTH_PORT" in err
