"""What the attacker tests share: raw calls to any public RPC with any metadata, and the
outcome as a status code and message (no client library in between to hide anything)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import grpc
from distill.v1 import admin_pb2, notifications_pb2, pipeline_pb2
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor

PUBLIC_SERVICES = (
    pipeline_pb2.DESCRIPTOR.services_by_name["Pipeline"],
    admin_pb2.DESCRIPTOR.services_by_name["Admin"],
    notifications_pb2.DESCRIPTOR.services_by_name["Notifications"],
)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def public_methods() -> list[MethodDescriptor]:
    """Every RPC of every public service, from the descriptors (a new RPC is attacked too)."""
    return [m for s in PUBLIC_SERVICES for m in s.methods]


def method(full_name: str) -> MethodDescriptor:
    service, name = full_name.rsplit(".", 1)
    return next(s for s in PUBLIC_SERVICES if s.full_name == service).methods_by_name[name]


def bearer(key: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {key}")]


@dataclass
class Outcome:
    code: grpc.StatusCode
    details: str
    response: Any = None

    @property
    def shape(self) -> tuple[grpc.StatusCode, str]:
        """The answer with ids blanked: equal shapes say nothing about which id exists where."""
        return self.code, UUID.sub("<id>", self.details)


async def call(
    channel: grpc.aio.Channel,
    m: MethodDescriptor,
    request: dict[str, Any] | Any | None = None,
    metadata: Iterable[tuple[str, str]] = (),
    timeout: float = 15.0,
    stream_items: int = 1,
) -> Outcome:
    """One call of `m`; for a stream, the first `stream_items` messages (the error, if any, comes first)."""
    req_cls = message_factory.GetMessageClass(m.input_type)
    resp_cls = message_factory.GetMessageClass(m.output_type)
    req = request if not isinstance(request, dict | type(None)) else json_format.ParseDict(request or {}, req_cls())
    path = f"/{m.containing_service.full_name}/{m.name}"
    kind = channel.unary_stream if m.server_streaming else channel.unary_unary
    fn = kind(path, request_serializer=lambda x: x.SerializeToString(), response_deserializer=resp_cls.FromString)
    try:
        if not m.server_streaming:
            return Outcome(grpc.StatusCode.OK, "", await fn(req, metadata=list(metadata), timeout=timeout))
        got = []
        stream = fn(req, metadata=list(metadata), timeout=timeout)
        async for msg in stream:
            got.append(msg)
            if len(got) >= stream_items:
                stream.cancel()
                break
        return Outcome(grpc.StatusCode.OK, "", got)
    except grpc.aio.AioRpcError as e:
        return Outcome(e.code(), e.details() or "")


def random_id() -> str:
    return str(uuid.uuid4())
