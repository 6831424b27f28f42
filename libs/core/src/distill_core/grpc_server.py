"""A grpc.aio server with health, reflection, TLS / mTLS, telemetry and graceful shutdown.

Every RPC is counted, timed and (tracing on) traced by grpc_telemetry.TelemetryInterceptor,
which runs before any interceptor the caller adds.

On stop: health flips to NOT_SERVING first (so load balancers and probes stop sending),
then the server stops with a grace period for in-flight RPCs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from distill_core.grpc_telemetry import TelemetryInterceptor
from distill_core.logging import get_logger

log = get_logger(__name__)

MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def _read(path: Path | str, what: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ValueError(f"cannot read the {what} {path}: {e.strerror or e}") from None
    if b"-----BEGIN " not in data:
        raise ValueError(f"the {what} {path} is not PEM (no -----BEGIN line)")
    return data


def server_credentials(
    cert_file: Path | str | None, key_file: Path | str | None, client_ca_file: Path | str | None = None
) -> grpc.ServerCredentials | None:
    """TLS credentials from PEM files (None without a certificate: plaintext).

    With `client_ca_file` the server asks for and requires a client certificate signed by
    one of its CAs (mutual TLS): a client without one fails the handshake.
    """
    if not cert_file:
        return None
    if not key_file:
        raise ValueError("a TLS certificate needs its private key file too")
    pair = (_read(key_file, "TLS private key"), _read(cert_file, "TLS certificate"))
    if client_ca_file:
        roots = _read(client_ca_file, "client CA bundle")
        return grpc.ssl_server_credentials([pair], root_certificates=roots, require_client_auth=True)
    return grpc.ssl_server_credentials([pair])


class GrpcServer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        services: Sequence[tuple[Callable[[Any, grpc.aio.Server], None], Any, str]] = (),
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        max_receive_bytes: int | None = None,
        credentials: grpc.ServerCredentials | None = None,
    ) -> None:
        """services: (add_XServicer_to_server, servicer, full service name).

        max_receive_bytes: larger requests are refused by gRPC itself (RESOURCE_EXHAUSTED)
        before they reach a servicer (default: max_message_bytes).
        """
        self.server = grpc.aio.server(
            interceptors=[TelemetryInterceptor(), *interceptors],
            options=[
                ("grpc.max_receive_message_length", max_receive_bytes or max_message_bytes),
                ("grpc.max_send_message_length", max_message_bytes),
                ("grpc.so_reuseport", 0),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.min_ping_interval_without_data_ms", 5000),
            ],
        )
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.names = [name for _, _, name in services]
        for add, servicer, _ in services:
            add(servicer, self.server)
        reflection.enable_server_reflection(
            [*self.names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
            self.server,
        )
        addr = f"{host}:{port}"
        self.port = (
            self.server.add_secure_port(addr, credentials) if credentials else self.server.add_insecure_port(addr)
        )
        if not self.port:
            raise OSError(f"cannot listen on {addr}")
        self.host = host
        self.tls = credentials is not None

    async def start(self) -> None:
        await self.server.start()

    async def set_serving(self, serving: bool = True) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ["", *self.names]:
            await self.health.set(name, status)

    async def stop(self, grace: float = 5.0) -> None:
        await self.set_serving(False)
        await self.server.stop(grace)
