import datetime

from distill.v1 import common_pb2 as _common_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WorkerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WORKER_STATE_UNSPECIFIED: _ClassVar[WorkerState]
    WORKER_STATE_IDLE: _ClassVar[WorkerState]
    WORKER_STATE_BUSY: _ClassVar[WorkerState]
    WORKER_STATE_DRAINING: _ClassVar[WorkerState]
WORKER_STATE_UNSPECIFIED: WorkerState
WORKER_STATE_IDLE: WorkerState
WORKER_STATE_BUSY: WorkerState
WORKER_STATE_DRAINING: WorkerState

class Worker(_message.Message):
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
    state: WorkerState
    current_item_ids: _containers.RepeatedScalarFieldContainer[str]
    processed_count: int
    failed_count: int
    start_time: _timestamp_pb2.Timestamp
    last_seen_time: _timestamp_pb2.Timestamp
    concurrency: int
    def __init__(self, name: _Optional[str] = ..., stage: _Optional[_Union[_common_pb2.Stage, str]] = ..., host: _Optional[str] = ..., pid: _Optional[int] = ..., state: _Optional[_Union[WorkerState, str]] = ..., current_item_ids: _Optional[_Iterable[str]] = ..., processed_count: _Optional[int] = ..., failed_count: _Optional[int] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., concurrency: _Optional[int] = ...) -> None: ...

class ListWorkersRequest(_message.Message):
    __slots__ = ("stage",)
    STAGE_FIELD_NUMBER: _ClassVar[int]
    stage: _common_pb2.Stage
    def __init__(self, stage: _Optional[_Union[_common_pb2.Stage, str]] = ...) -> None: ...

class ListWorkersResponse(_message.Message):
    __slots__ = ("workers", "ttl")
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    workers: _containers.RepeatedCompositeFieldContainer[Worker]
    ttl: _duration_pb2.Duration
    def __init__(self, workers: _Optional[_Iterable[_Union[Worker, _Mapping]]] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class GetQueueStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LaneStats(_message.Message):
    __slots__ = ("stage", "priority", "pending", "ack_pending", "redelivered", "oldest_age")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    ACK_PENDING_FIELD_NUMBER: _ClassVar[int]
    REDELIVERED_FIELD_NUMBER: _ClassVar[int]
    OLDEST_AGE_FIELD_NUMBER: _ClassVar[int]
    stage: _common_pb2.Stage
    priority: _common_pb2.Priority
    pending: int
    ack_pending: int
    redelivered: int
    oldest_age: _duration_pb2.Duration
    def __init__(self, stage: _Optional[_Union[_common_pb2.Stage, str]] = ..., priority: _Optional[_Union[_common_pb2.Priority, str]] = ..., pending: _Optional[int] = ..., ack_pending: _Optional[int] = ..., redelivered: _Optional[int] = ..., oldest_age: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class QueueStats(_message.Message):
    __slots__ = ("lanes", "dead_lettered", "time")
    class DeadLetteredEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    LANES_FIELD_NUMBER: _ClassVar[int]
    DEAD_LETTERED_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    lanes: _containers.RepeatedCompositeFieldContainer[LaneStats]
    dead_lettered: _containers.ScalarMap[str, int]
    time: _timestamp_pb2.Timestamp
    def __init__(self, lanes: _Optional[_Iterable[_Union[LaneStats, _Mapping]]] = ..., dead_lettered: _Optional[_Mapping[str, int]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetStatisticsRequest(_message.Message):
    __slots__ = ("window",)
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    window: _duration_pb2.Duration
    def __init__(self, window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class StageStatistics(_message.Message):
    __slots__ = ("stage", "started", "succeeded", "failed", "success_rate", "failures_by_code", "mean_duration_seconds", "cancelled")
    class FailuresByCodeEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    STAGE_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    FAILURES_BY_CODE_FIELD_NUMBER: _ClassVar[int]
    MEAN_DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    stage: _common_pb2.Stage
    started: int
    succeeded: int
    failed: int
    success_rate: float
    failures_by_code: _containers.ScalarMap[str, int]
    mean_duration_seconds: float
    cancelled: int
    def __init__(self, stage: _Optional[_Union[_common_pb2.Stage, str]] = ..., started: _Optional[int] = ..., succeeded: _Optional[int] = ..., failed: _Optional[int] = ..., success_rate: _Optional[float] = ..., failures_by_code: _Optional[_Mapping[str, int]] = ..., mean_duration_seconds: _Optional[float] = ..., cancelled: _Optional[int] = ...) -> None: ...

class Statistics(_message.Message):
    __slots__ = ("start_time", "end_time", "tasks_created", "items_created", "items_succeeded", "items_failed", "stages", "ai_usage", "success_rate", "failures_by_code", "items_cancelled")
    class FailuresByCodeEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    TASKS_CREATED_FIELD_NUMBER: _ClassVar[int]
    ITEMS_CREATED_FIELD_NUMBER: _ClassVar[int]
    ITEMS_SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FAILED_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    AI_USAGE_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    FAILURES_BY_CODE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_CANCELLED_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    tasks_created: int
    items_created: int
    items_succeeded: int
    items_failed: int
    stages: _containers.RepeatedCompositeFieldContainer[StageStatistics]
    ai_usage: _common_pb2.AiUsage
    success_rate: float
    failures_by_code: _containers.ScalarMap[str, int]
    items_cancelled: int
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tasks_created: _Optional[int] = ..., items_created: _Optional[int] = ..., items_succeeded: _Optional[int] = ..., items_failed: _Optional[int] = ..., stages: _Optional[_Iterable[_Union[StageStatistics, _Mapping]]] = ..., ai_usage: _Optional[_Union[_common_pb2.AiUsage, _Mapping]] = ..., success_rate: _Optional[float] = ..., failures_by_code: _Optional[_Mapping[str, int]] = ..., items_cancelled: _Optional[int] = ...) -> None: ...

class DeadLetter(_message.Message):
    __slots__ = ("id", "stage", "task_id", "item_id", "error", "deliveries", "create_time", "input")
    ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    id: str
    stage: _common_pb2.Stage
    task_id: str
    item_id: str
    error: _common_pb2.ErrorInfo
    deliveries: int
    create_time: _timestamp_pb2.Timestamp
    input: str
    def __init__(self, id: _Optional[str] = ..., stage: _Optional[_Union[_common_pb2.Stage, str]] = ..., task_id: _Optional[str] = ..., item_id: _Optional[str] = ..., error: _Optional[_Union[_common_pb2.ErrorInfo, _Mapping]] = ..., deliveries: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., input: _Optional[str] = ...) -> None: ...

class ListDeadLettersRequest(_message.Message):
    __slots__ = ("stage", "page_size", "page_token", "task_id", "error_code")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    stage: _common_pb2.Stage
    page_size: int
    page_token: str
    task_id: str
    error_code: str
    def __init__(self, stage: _Optional[_Union[_common_pb2.Stage, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., task_id: _Optional[str] = ..., error_code: _Optional[str] = ...) -> None: ...

class ListDeadLettersResponse(_message.Message):
    __slots__ = ("dead_letters", "next_page_token", "total_size")
    DEAD_LETTERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    dead_letters: _containers.RepeatedCompositeFieldContainer[DeadLetter]
    next_page_token: str
    total_size: int
    def __init__(self, dead_letters: _Optional[_Iterable[_Union[DeadLetter, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class ReplayDeadLettersRequest(_message.Message):
    __slots__ = ("ids", "stage", "all", "task_id")
    IDS_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    stage: _common_pb2.Stage
    all: bool
    task_id: str
    def __init__(self, ids: _Optional[_Iterable[str]] = ..., stage: _Optional[_Union[_common_pb2.Stage, str]] = ..., all: _Optional[bool] = ..., task_id: _Optional[str] = ...) -> None: ...

class ReplayDeadLettersResponse(_message.Message):
    __slots__ = ("replayed_count", "skipped_count")
    REPLAYED_COUNT_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_COUNT_FIELD_NUMBER: _ClassVar[int]
    replayed_count: int
    skipped_count: int
    def __init__(self, replayed_count: _Optional[int] = ..., skipped_count: _Optional[int] = ...) -> None: ...

class PurgeDeadLettersRequest(_message.Message):
    __slots__ = ("ids", "stage", "all", "task_id")
    IDS_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    stage: _common_pb2.Stage
    all: bool
    task_id: str
    def __init__(self, ids: _Optional[_Iterable[str]] = ..., stage: _Optional[_Union[_common_pb2.Stage, str]] = ..., all: _Optional[bool] = ..., task_id: _Optional[str] = ...) -> None: ...

class PurgeDeadLettersResponse(_message.Message):
    __slots__ = ("purged_count",)
    PURGED_COUNT_FIELD_NUMBER: _ClassVar[int]
    purged_count: int
    def __init__(self, purged_count: _Optional[int] = ...) -> None: ...
