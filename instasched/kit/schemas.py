"""Base schema: the API's JSON is camelCase (as the spec); Python stays snake_case."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

T = TypeVar("T")


def examples(*values: Any) -> ConfigDict:
    """`model_config` of a schema with OpenAPI examples, in the API's camelCase JSON (every one is
    validated against its model by tests/foundation/test_openapi.py)."""
    return ConfigDict(json_schema_extra={"examples": list(values)})


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

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        # PostgreSQL refuses \x00 in text: without this a NUL in any string is a 500 at INSERT.
        if _has_nul(value):
            raise PydanticCustomError("nul_character", "must not contain NUL (\\u0000) characters")
        return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


class Page(ApiModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    limit: int


class Message(ApiModel):
    model_config = examples({"message": "Template deleted successfully"})

    message: str = Field(examples=["Post cancelled successfully"])


class ErrorBody(ApiModel):
    """The body of every error answer (InstaschedError.to_dict and the app's handlers)."""

    model_config = examples(
        {
            "error": "validation_error",
            "message": "scheduledFor must be at least 5 minutes (300 s) in the future",
            "detail": [
                {
                    "field": "scheduledFor",
                    "message": "scheduledFor must be at least 5 minutes (300 s) in the future",
                }
            ],
        },
        {"error": "not_found", "message": "Scheduled post not found"},
    )

    error: str = Field(examples=["validation_error"])
    message: str = Field(examples=["scheduledFor must be at least 300 seconds ahead"])
    detail: object | None = None


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """`model` as the JSON body, the same bytes FastAPI would write for a `response_model`.

    FastAPI validates a returned model against the `response_model` once more before dumping
    it; for a page of 20 posts that second pass cost ~1 ms of CPU per request (bench/run). The
    endpoint keeps `response_model=` for the OpenAPI schema and returns this.
    """
    return Response(
        model.model_dump_json(by_alias=True),
        status_code=status_code,
        media_type="application/json",
    )
