"""Container HEALTHCHECK: ask the service's grpc.health.v1 endpoint whether it is SERVING.

Exit 0 when SERVING, 1 otherwise (NOT_SERVING, unreachable, timeout), with one line on
stderr saying why. The port is DISTILL_GRPC_PORT (the gateway's API port, which serves
health too) when set, else DISTILL_HEALTH_PORT (a worker's health port).

Kubernetes does not run this: its native gRPC probes ask the same endpoint.
"""

from __future__ import annotations

import os
import sys


def target_port(env: dict[str, str]) -> int:
    raw = env.get("DISTILL_GRPC_PORT") or env.get("DISTILL_HEALTH_PORT") or ""
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"no health port: set DISTILL_GRPC_PORT or DISTILL_HEALTH_PORT (got {raw!r})")
    return int(raw)


def check(port: int, timeout: float = 3.0) -> tuple[bool, str]:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            resp = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout)
        except grpc.RpcError as e:
            return False, f"health check on port {port} failed: {e.code().name}"
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
    return resp.status == health_pb2.HealthCheckResponse.SERVING, f"port {port}: {status}"


def main() -> int:
    try:
        ok, message = check(target_port(dict(os.environ)))
    except ValueError as e:
        ok, message = False, str(e)
    print(message, file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
