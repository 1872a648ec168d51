"""Base schema: the API's JSON is camelCase (as the spec); Python stays snake_case."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

T = TypeVar("T")


class ApiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        from_attributes=True,
        str_strip_whitespace=False,
    )


class RequestModel(ApiModel):
    """Request bodies refuse unknown fields, so a typo is a 422 instead of silently ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", from_attributes=True
    )


class Page(ApiModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    limit: int


class Message(ApiModel):
    message: str = Field(examples=["Post cancelled successfully"])


class ErrorBody(ApiModel):
    error: str = Field(examples=["validation_error"])
    message: str = Field(examples=["scheduledFor must be at least 300 seconds ahead"])
    detail: object | None = None
