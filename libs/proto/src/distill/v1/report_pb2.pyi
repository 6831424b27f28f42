import datetime

from distill.v1 import common_pb2 as _common_pb2
from distill.v1 import task_pb2 as _task_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_FORMAT_UNSPECIFIED: _ClassVar[ReportFormat]
    REPORT_FORMAT_PDF: _ClassVar[ReportFormat]
    REPORT_FORMAT_MARKDOWN: _ClassVar[ReportFormat]
    REPORT_FORMAT_JSON: _ClassVar[ReportFormat]

class ReportStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_STATUS_UNSPECIFIED: _ClassVar[ReportStatus]
    REPORT_STATUS_QUEUED: _ClassVar[ReportStatus]
    REPORT_STATUS_RUNNING: _ClassVar[ReportStatus]
    REPORT_STATUS_SUCCEEDED: _ClassVar[ReportStatus]
    REPORT_STATUS_FAILED: _ClassVar[ReportStatus]
REPORT_FORMAT_UNSPECIFIED: ReportFormat
REPORT_FORMAT_PDF: ReportFormat
REPORT_FORMAT_MARKDOWN: ReportFormat
REPORT_FORMAT_JSON: ReportFormat
REPORT_STATUS_UNSPECIFIED: ReportStatus
REPORT_STATUS_QUEUED: ReportStatus
REPORT_STATUS_RUNNING: ReportStatus
REPORT_STATUS_SUCCEEDED: ReportStatus
REPORT_STATUS_FAILED: ReportStatus

class Report(_message.Message):
    __slots__ = ("id", "task_id", "format", "status", "error", "size_bytes", "content_type", "filename", "sha256", "content", "item_count", "task_status", "attempts", "create_time", "start_time", "finish_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    ITEM_COUNT_FIELD_NUMBER: _ClassVar[int]
    TASK_STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    task_id: str
    format: ReportFormat
    status: ReportStatus
    error: _common_pb2.ErrorInfo
    size_bytes: int
    content_type: str
    filename: str
    sha256: str
    content: bytes
    item_count: int
    task_status: _task_pb2.TaskStatus
    attempts: int
    create_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    finish_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., task_id: _Optional[str] = ..., format: _Optional[_Union[ReportFormat, str]] = ..., status: _Optional[_Union[ReportStatus, str]] = ..., error: _Optional[_Union[_common_pb2.ErrorInfo, _Mapping]] = ..., size_bytes: _Optional[int] = ..., content_type: _Optional[str] = ..., filename: _Optional[str] = ..., sha256: _Optional[str] = ..., content: _Optional[bytes] = ..., item_count: _Optional[int] = ..., task_status: _Optional[_Union[_task_pb2.TaskStatus, str]] = ..., attempts: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ExportTaskReportRequest(_message.Message):
    __slots__ = ("task_id", "format")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    format: ReportFormat
    def __init__(self, task_id: _Optional[str] = ..., format: _Optional[_Union[ReportFormat, str]] = ...) -> None: ...

class GetReportRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DownloadReportRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ReportChunk(_message.Message):
    __slots__ = ("report", "offset", "data")
    REPORT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    report: Report
    offset: int
    data: bytes
    def __init__(self, report: _Optional[_Union[Report, _Mapping]] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...
