import datetime

from distill.v1 import common_pb2 as _common_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STATUS_UNSPECIFIED: _ClassVar[TaskStatus]
    TASK_STATUS_QUEUED: _ClassVar[TaskStatus]
    TASK_STATUS_RUNNING: _ClassVar[TaskStatus]
    TASK_STATUS_SUCCEEDED: _ClassVar[TaskStatus]
    TASK_STATUS_PARTIALLY_FAILED: _ClassVar[TaskStatus]
    TASK_STATUS_FAILED: _ClassVar[TaskStatus]
    TASK_STATUS_CANCELLED: _ClassVar[TaskStatus]

class ItemStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ITEM_STATUS_UNSPECIFIED: _ClassVar[ItemStatus]
    ITEM_STATUS_PENDING: _ClassVar[ItemStatus]
    ITEM_STATUS_RUNNING: _ClassVar[ItemStatus]
    ITEM_STATUS_SUCCEEDED: _ClassVar[ItemStatus]
    ITEM_STATUS_FAILED: _ClassVar[ItemStatus]
    ITEM_STATUS_CANCELLED: _ClassVar[ItemStatus]

class PhaseStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PHASE_STATUS_UNSPECIFIED: _ClassVar[PhaseStatus]
    PHASE_STATUS_PENDING: _ClassVar[PhaseStatus]
    PHASE_STATUS_RUNNING: _ClassVar[PhaseStatus]
    PHASE_STATUS_RETRYING: _ClassVar[PhaseStatus]
    PHASE_STATUS_SUCCEEDED: _ClassVar[PhaseStatus]
    PHASE_STATUS_FAILED: _ClassVar[PhaseStatus]
    PHASE_STATUS_CANCELLED: _ClassVar[PhaseStatus]

class InputKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INPUT_KIND_UNSPECIFIED: _ClassVar[InputKind]
    INPUT_KIND_URL: _ClassVar[InputKind]
    INPUT_KIND_PARSED_CONTENT: _ClassVar[InputKind]
    INPUT_KIND_AI_CONTENT: _ClassVar[InputKind]
    INPUT_KIND_FILE: _ClassVar[InputKind]

class ItemView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ITEM_VIEW_UNSPECIFIED: _ClassVar[ItemView]
    BASIC: _ClassVar[ItemView]
    FULL: _ClassVar[ItemView]

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TYPE_UNSPECIFIED: _ClassVar[EventType]
    EVENT_TYPE_SNAPSHOT: _ClassVar[EventType]
    EVENT_TYPE_TASK_UPDATED: _ClassVar[EventType]
    EVENT_TYPE_ITEM_UPDATED: _ClassVar[EventType]
    EVENT_TYPE_HEARTBEAT: _ClassVar[EventType]
TASK_STATUS_UNSPECIFIED: TaskStatus
TASK_STATUS_QUEUED: TaskStatus
TASK_STATUS_RUNNING: TaskStatus
TASK_STATUS_SUCCEEDED: TaskStatus
TASK_STATUS_PARTIALLY_FAILED: TaskStatus
TASK_STATUS_FAILED: TaskStatus
TASK_STATUS_CANCELLED: TaskStatus
ITEM_STATUS_UNSPECIFIED: ItemStatus
ITEM_STATUS_PENDING: ItemStatus
ITEM_STATUS_RUNNING: ItemStatus
ITEM_STATUS_SUCCEEDED: ItemStatus
ITEM_STATUS_FAILED: ItemStatus
ITEM_STATUS_CANCELLED: ItemStatus
PHASE_STATUS_UNSPECIFIED: PhaseStatus
PHASE_STATUS_PENDING: PhaseStatus
PHASE_STATUS_RUNNING: PhaseStatus
PHASE_STATUS_RETRYING: PhaseStatus
PHASE_STATUS_SUCCEEDED: PhaseStatus
PHASE_STATUS_FAILED: PhaseStatus
PHASE_STATUS_CANCELLED: PhaseStatus
INPUT_KIND_UNSPECIFIED: InputKind
INPUT_KIND_URL: InputKind
INPUT_KIND_PARSED_CONTENT: InputKind
INPUT_KIND_AI_CONTENT: InputKind
INPUT_KIND_FILE: InputKind
ITEM_VIEW_UNSPECIFIED: ItemView
BASIC: ItemView
FULL: ItemView
EVENT_TYPE_UNSPECIFIED: EventType
EVENT_TYPE_SNAPSHOT: EventType
EVENT_TYPE_TASK_UPDATED: EventType
EVENT_TYPE_ITEM_UPDATED: EventType
EVENT_TYPE_HEARTBEAT: EventType

class TaskCounts(_message.Message):
    __slots__ = ("total", "pending", "running", "succeeded", "failed", "cancelled")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    total: int
    pending: int
    running: int
    succeeded: int
    failed: int
    cancelled: int
    def __init__(self, total: _Optional[int] = ..., pending: _Optional[int] = ..., running: _Optional[int] = ..., succeeded: _Optional[int] = ..., failed: _Optional[int] = ..., cancelled: _Optional[int] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ("id", "status", "counts", "progress", "input_kind", "stages", "ai", "export", "priority", "idempotency_key", "labels", "create_time", "update_time", "start_time", "finish_time", "items")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    INPUT_KIND_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    AI_FIELD_NUMBER: _ClassVar[int]
    EXPORT_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    id: str
    status: TaskStatus
    counts: TaskCounts
    progress: int
    input_kind: InputKind
    stages: _containers.RepeatedScalarFieldContainer[_common_pb2.Stage]
    ai: _common_pb2.AiOptions
    export: _common_pb2.ExportOptions
    priority: _common_pb2.Priority
    idempotency_key: str
    labels: _containers.ScalarMap[str, str]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    finish_time: _timestamp_pb2.Timestamp
    items: _containers.RepeatedCompositeFieldContainer[Item]
    def __init__(self, id: _Optional[str] = ..., status: _Optional[_Union[TaskStatus, str]] = ..., counts: _Optional[_Union[TaskCounts, _Mapping]] = ..., progress: _Optional[int] = ..., input_kind: _Optional[_Union[InputKind, str]] = ..., stages: _Optional[_Iterable[_Union[_common_pb2.Stage, str]]] = ..., ai: _Optional[_Union[_common_pb2.AiOptions, _Mapping]] = ..., export: _Optional[_Union[_common_pb2.ExportOptions, _Mapping]] = ..., priority: _Optional[_Union[_common_pb2.Priority, str]] = ..., idempotency_key: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., items: _Optional[_Iterable[_Union[Item, _Mapping]]] = ...) -> None: ...

class Phase(_message.Message):
    __slots__ = ("stage", "status", "attempts", "start_time", "finish_time", "progress", "error", "message")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    stage: _common_pb2.Stage
    status: PhaseStatus
    attempts: int
    start_time: _timestamp_pb2.Timestamp
    finish_time: _timestamp_pb2.Timestamp
    progress: int
    error: _common_pb2.ErrorInfo
    message: str
    def __init__(self, stage: _Optional[_Union[_common_pb2.Stage, str]] = ..., status: _Optional[_Union[PhaseStatus, str]] = ..., attempts: _Optional[int] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., progress: _Optional[int] = ..., error: _Optional[_Union[_common_pb2.ErrorInfo, _Mapping]] = ..., message: _Optional[str] = ...) -> None: ...

class ParsedContent(_message.Message):
    __slots__ = ("id", "url", "final_url", "canonical_url", "title", "byline", "site_name", "publish_time", "language", "excerpt", "text", "thumbnail_url", "content_type", "content_hash", "word_count", "recipe", "structured_data", "no_content", "description")
    ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    FINAL_URL_FIELD_NUMBER: _ClassVar[int]
    CANONICAL_URL_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BYLINE_FIELD_NUMBER: _ClassVar[int]
    SITE_NAME_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_TIME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    EXCERPT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    THUMBNAIL_URL_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    WORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    RECIPE_FIELD_NUMBER: _ClassVar[int]
    STRUCTURED_DATA_FIELD_NUMBER: _ClassVar[int]
    NO_CONTENT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    url: str
    final_url: str
    canonical_url: str
    title: str
    byline: str
    site_name: str
    publish_time: _timestamp_pb2.Timestamp
    language: str
    excerpt: str
    text: str
    thumbnail_url: str
    content_type: str
    content_hash: str
    word_count: int
    recipe: _common_pb2.Recipe
    structured_data: _struct_pb2.Struct
    no_content: bool
    description: str
    def __init__(self, id: _Optional[str] = ..., url: _Optional[str] = ..., final_url: _Optional[str] = ..., canonical_url: _Optional[str] = ..., title: _Optional[str] = ..., byline: _Optional[str] = ..., site_name: _Optional[str] = ..., publish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., language: _Optional[str] = ..., excerpt: _Optional[str] = ..., text: _Optional[str] = ..., thumbnail_url: _Optional[str] = ..., content_type: _Optional[str] = ..., content_hash: _Optional[str] = ..., word_count: _Optional[int] = ..., recipe: _Optional[_Union[_common_pb2.Recipe, _Mapping]] = ..., structured_data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., no_content: _Optional[bool] = ..., description: _Optional[str] = ...) -> None: ...

class AiOutput(_message.Message):
    __slots__ = ("id", "summary", "keywords", "insights", "recipe", "provider", "model", "usage", "no_content")
    ID_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    KEYWORDS_FIELD_NUMBER: _ClassVar[int]
    INSIGHTS_FIELD_NUMBER: _ClassVar[int]
    RECIPE_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    NO_CONTENT_FIELD_NUMBER: _ClassVar[int]
    id: str
    summary: str
    keywords: _containers.RepeatedScalarFieldContainer[str]
    insights: _containers.RepeatedScalarFieldContainer[str]
    recipe: _common_pb2.Recipe
    provider: str
    model: str
    usage: _common_pb2.AiUsage
    no_content: bool
    def __init__(self, id: _Optional[str] = ..., summary: _Optional[str] = ..., keywords: _Optional[_Iterable[str]] = ..., insights: _Optional[_Iterable[str]] = ..., recipe: _Optional[_Union[_common_pb2.Recipe, _Mapping]] = ..., provider: _Optional[str] = ..., model: _Optional[str] = ..., usage: _Optional[_Union[_common_pb2.AiUsage, _Mapping]] = ..., no_content: _Optional[bool] = ...) -> None: ...

class ExportResult(_message.Message):
    __slots__ = ("destination", "url", "external_id", "export_time")
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    EXPORT_TIME_FIELD_NUMBER: _ClassVar[int]
    destination: _common_pb2.Destination
    url: str
    external_id: str
    export_time: _timestamp_pb2.Timestamp
    def __init__(self, destination: _Optional[_Union[_common_pb2.Destination, str]] = ..., url: _Optional[str] = ..., external_id: _Optional[str] = ..., export_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Item(_message.Message):
    __slots__ = ("id", "task_id", "input_kind", "input", "status", "current_stage", "phases", "error", "title", "parsed", "ai", "export", "create_time", "update_time", "finish_time", "position")
    ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_KIND_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_STAGE_FIELD_NUMBER: _ClassVar[int]
    PHASES_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    PARSED_FIELD_NUMBER: _ClassVar[int]
    AI_FIELD_NUMBER: _ClassVar[int]
    EXPORT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    id: str
    task_id: str
    input_kind: InputKind
    input: str
    status: ItemStatus
    current_stage: _common_pb2.Stage
    phases: _containers.RepeatedCompositeFieldContainer[Phase]
    error: _common_pb2.ErrorInfo
    title: str
    parsed: ParsedContent
    ai: AiOutput
    export: ExportResult
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    finish_time: _timestamp_pb2.Timestamp
    position: int
    def __init__(self, id: _Optional[str] = ..., task_id: _Optional[str] = ..., input_kind: _Optional[_Union[InputKind, str]] = ..., input: _Optional[str] = ..., status: _Optional[_Union[ItemStatus, str]] = ..., current_stage: _Optional[_Union[_common_pb2.Stage, str]] = ..., phases: _Optional[_Iterable[_Union[Phase, _Mapping]]] = ..., error: _Optional[_Union[_common_pb2.ErrorInfo, _Mapping]] = ..., title: _Optional[str] = ..., parsed: _Optional[_Union[ParsedContent, _Mapping]] = ..., ai: _Optional[_Union[AiOutput, _Mapping]] = ..., export: _Optional[_Union[ExportResult, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., position: _Optional[int] = ...) -> None: ...

class TaskEvent(_message.Message):
    __slots__ = ("sequence", "type", "time", "task_id", "task", "item", "event_id", "terminal", "details")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    type: EventType
    time: _timestamp_pb2.Timestamp
    task_id: str
    task: Task
    item: Item
    event_id: str
    terminal: bool
    details: _struct_pb2.Struct
    def __init__(self, sequence: _Optional[int] = ..., type: _Optional[_Union[EventType, str]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., task_id: _Optional[str] = ..., task: _Optional[_Union[Task, _Mapping]] = ..., item: _Optional[_Union[Item, _Mapping]] = ..., event_id: _Optional[str] = ..., terminal: _Optional[bool] = ..., details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
