import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Stage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STAGE_UNSPECIFIED: _ClassVar[Stage]
    STAGE_PARSE: _ClassVar[Stage]
    STAGE_AI: _ClassVar[Stage]
    STAGE_NOTION: _ClassVar[Stage]

class Priority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRIORITY_UNSPECIFIED: _ClassVar[Priority]
    PRIORITY_HIGH: _ClassVar[Priority]
    PRIORITY_NORMAL: _ClassVar[Priority]
    PRIORITY_LOW: _ClassVar[Priority]

class Destination(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DESTINATION_UNSPECIFIED: _ClassVar[Destination]
    DESTINATION_NOTION: _ClassVar[Destination]
    DESTINATION_MARKDOWN: _ClassVar[Destination]
STAGE_UNSPECIFIED: Stage
STAGE_PARSE: Stage
STAGE_AI: Stage
STAGE_NOTION: Stage
PRIORITY_UNSPECIFIED: Priority
PRIORITY_HIGH: Priority
PRIORITY_NORMAL: Priority
PRIORITY_LOW: Priority
DESTINATION_UNSPECIFIED: Destination
DESTINATION_NOTION: Destination
DESTINATION_MARKDOWN: Destination

class ErrorInfo(_message.Message):
    __slots__ = ("code", "message", "retryable", "stage", "attempt", "occur_time", "details")
    class DetailsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    OCCUR_TIME_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    retryable: bool
    stage: Stage
    attempt: int
    occur_time: _timestamp_pb2.Timestamp
    details: _containers.ScalarMap[str, str]
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., retryable: _Optional[bool] = ..., stage: _Optional[_Union[Stage, str]] = ..., attempt: _Optional[int] = ..., occur_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., details: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Recipe(_message.Message):
    __slots__ = ("title", "ingredients", "instructions", "yields", "prep_time_minutes", "cook_time_minutes", "total_time_minutes", "image", "description", "author", "cuisine", "category", "ingredient_groups", "source")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    INGREDIENTS_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    YIELDS_FIELD_NUMBER: _ClassVar[int]
    PREP_TIME_MINUTES_FIELD_NUMBER: _ClassVar[int]
    COOK_TIME_MINUTES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TIME_MINUTES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    CUISINE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    INGREDIENT_GROUPS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    title: str
    ingredients: _containers.RepeatedScalarFieldContainer[str]
    instructions: _containers.RepeatedScalarFieldContainer[str]
    yields: str
    prep_time_minutes: int
    cook_time_minutes: int
    total_time_minutes: int
    image: str
    description: str
    author: str
    cuisine: str
    category: str
    ingredient_groups: _containers.RepeatedCompositeFieldContainer[IngredientGroup]
    source: str
    def __init__(self, title: _Optional[str] = ..., ingredients: _Optional[_Iterable[str]] = ..., instructions: _Optional[_Iterable[str]] = ..., yields: _Optional[str] = ..., prep_time_minutes: _Optional[int] = ..., cook_time_minutes: _Optional[int] = ..., total_time_minutes: _Optional[int] = ..., image: _Optional[str] = ..., description: _Optional[str] = ..., author: _Optional[str] = ..., cuisine: _Optional[str] = ..., category: _Optional[str] = ..., ingredient_groups: _Optional[_Iterable[_Union[IngredientGroup, _Mapping]]] = ..., source: _Optional[str] = ...) -> None: ...

class IngredientGroup(_message.Message):
    __slots__ = ("purpose", "ingredients")
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    INGREDIENTS_FIELD_NUMBER: _ClassVar[int]
    purpose: str
    ingredients: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, purpose: _Optional[str] = ..., ingredients: _Optional[_Iterable[str]] = ...) -> None: ...

class AiOptions(_message.Message):
    __slots__ = ("model", "generate_summary", "generate_keywords", "generate_insights", "extract_recipe")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    GENERATE_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    GENERATE_KEYWORDS_FIELD_NUMBER: _ClassVar[int]
    GENERATE_INSIGHTS_FIELD_NUMBER: _ClassVar[int]
    EXTRACT_RECIPE_FIELD_NUMBER: _ClassVar[int]
    model: str
    generate_summary: bool
    generate_keywords: bool
    generate_insights: bool
    extract_recipe: bool
    def __init__(self, model: _Optional[str] = ..., generate_summary: _Optional[bool] = ..., generate_keywords: _Optional[bool] = ..., generate_insights: _Optional[bool] = ..., extract_recipe: _Optional[bool] = ...) -> None: ...

class ExportOptions(_message.Message):
    __slots__ = ("destination", "notion_database_id", "properties", "include_text")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    NOTION_DATABASE_ID_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TEXT_FIELD_NUMBER: _ClassVar[int]
    destination: Destination
    notion_database_id: str
    properties: _containers.ScalarMap[str, str]
    include_text: bool
    def __init__(self, destination: _Optional[_Union[Destination, str]] = ..., notion_database_id: _Optional[str] = ..., properties: _Optional[_Mapping[str, str]] = ..., include_text: _Optional[bool] = ...) -> None: ...

class AiUsage(_message.Message):
    __slots__ = ("prompt_tokens", "completion_tokens", "requests", "latency_ms")
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    prompt_tokens: int
    completion_tokens: int
    requests: int
    latency_ms: int
    def __init__(self, prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., requests: _Optional[int] = ..., latency_ms: _Optional[int] = ...) -> None: ...

class StructuredData(_message.Message):
    __slots__ = ("objects",)
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    def __init__(self, objects: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ...) -> None: ...
