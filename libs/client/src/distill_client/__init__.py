"""Python client for Distill's gRPC API.

    from distill_client import AsyncClient, Client, NotFound

`AsyncClient` (asyncio) and `Client` (blocking) have the same methods: submit, get_task,
get_item, list_tasks / iter_tasks, list_items / iter_items, cancel, retry, watch,
watch_tasks, wait, upload (files and URLs), list_workers, queue_stats, statistics, list_dead_letters /
iter_dead_letters, replay_dead_letters, purge_dead_letters, and task reports:
export_report, get_report, wait_report, download_report, report_content, save_report. Failures raise the typed
exceptions of `distill_client.errors` (all subclasses of DistillError). TLS and mTLS:
`AsyncClient(..., tls=Tls(ca_file=..., cert_file=..., key_file=...))` or the
DISTILL_TLS_* variables (docs/security.md).
"""

from distill_client.client import TERMINAL_TASK, AsyncClient, resolve_target
from distill_client.config import Tls
from distill_client.errors import (
    AlreadyExists,
    Cancelled,
    DataLoss,
    DeadlineExceeded,
    DistillError,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from distill_client.reports import TERMINAL_REPORT
from distill_client.sync import Client
from distill_client.uploads import FileData, UploadProgress

# The name used before the typed exceptions existed.
DistillClientError = DistillError

__all__ = [
    "TERMINAL_REPORT",
    "TERMINAL_TASK",
    "AlreadyExists",
    "AsyncClient",
    "Cancelled",
    "Client",
    "DataLoss",
    "DeadlineExceeded",
    "DistillClientError",
    "DistillError",
    "FailedPrecondition",
    "FileData",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Tls",
    "Unauthenticated",
    "Unavailable",
    "UploadProgress",
    "resolve_target",
]
