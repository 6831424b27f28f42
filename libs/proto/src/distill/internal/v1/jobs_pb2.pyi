import datetime

from distill.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Job(_message.Message):
    __slots__ = ("item_id", "task_id", "tenant_id", "stage", "generation", "priority", "enqueue_time", "trace")
    class TraceEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    ENQUEUE_TIME_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    task_id: str
    tenant_id: str
    stage: _common_pb2.Stage
    generation: int
    priority: _common_pb2.Priority
    enqueue_time: _timestamp_pb2.Timestamp
    trace: _containers.ScalarMap[str, str]
    def __init__(self, item_id: _Optional[str] = ..., task_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., stage: _Optional[_Union[_common_pb2.Stage, str]] = ..., generation: _Optional[int] = ..., priority: _Optional[_Union[_common_pb2.Priority, str]] = ..., enqueue_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trace: _Optional[_Mapping[str, str]] = ...) -> None: ...

class DeadLetterRecord(_message.Message):
    __slots__ = ("id", "job", "error", "deliveries", "create_time", "worker", "raw")
    ID_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    RAW_FIELD_NUMBER: _ClassVar[int]
    id: str
    job: Job
    error: _common_pb2.ErrorInfo
    deliveries: int
    create_time: _timestamp_pb2.Timestamp
    worker: str
    raw: bytes
    def __init__(self, id: _Optional[str] = ..., job: _Optional[_Union[Job, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.ErrorInfo, _Mapping]] = ..., deliveries: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., worker: _Optional[str] = ..., raw: _Optional[bytes] = ...) -> None: ...

class WorkerHeartbeat(_message.Message):
    __slots__ = ("name", "stage", "host", "pid", "state", "current_item_ids", "processed_count", "failed_count", "start_time", "last_seen_time", "concurrency")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CURRENT_ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_COUNT_FIELD_NUMBER: _ClassVar[int]
    FAILED_COUNT_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_TIME_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    name: str
    stage: _common_pb2.Stage
    host: str
    pid: int
    state: int
    current_item_ids: _containers.RepeatedScalarFieldContainer[str]
    processed_count: int
    failed_count: int
    start_time: _timestamp_pb2.Timestamp
    last_seen_time: _timestamp_pb2.Timestamp
    concurrency: int
    def __init__(self, name: _Optional[str] = ..., stage: _Optional[_Union[_common_pb2.Stage, str]] = ..., host: _Optional[str] = ..., pid: _Optional[int] = ..., state: _Optional[int] = ..., current_item_ids: _Optional[_Iterable[str]] = ..., processed_count: _Optional[int] = ..., failed_count: _Optional[int] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., concurrency: _Optional[int] = ...) -> None: ...

class CancelRequest(_message.Message):
    __slots__ = ("task_id", "item_ids")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, task_id: _Optional[str] = ..., item_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ReportJob(_message.Message):
    __slots__ = ("report_id", "task_id", "tenant_id", "enqueue_time", "trace")
    class TraceEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REPORT_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ENQUEUE_TIME_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    report_id: str
    task_id: str
    tenant_id: str
    enqueue_time: _timestamp_pb2.Timestamp
    trace: _containers.ScalarMap[str, str]
    def __init__(self, report_id: _Optional[str] = ..., task_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., enqueue_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trace: _Optional[_Mapping[str, str]] = ...) -> None: ...
