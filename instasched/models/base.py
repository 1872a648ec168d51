"""Declarative base with one naming convention for constraints and indexes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, TypeVar, cast

from sqlalchemy import Column, DateTime, MetaData, func, inspect, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, configure_mappers, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSONB, list[Any]: JSONB}


ModelT = TypeVar("ModelT", bound=Base)


def loaded(model: type[ModelT], values: Mapping[str, Any]) -> ModelT:
    """A model object holding `values` (attribute → value, every column) read without the ORM,
    built as SQLAlchemy's own loading builds one: no constructor and no attribute event per
    value (~1.5 µs against ~25 µs for `MediaAsset(**values)`, measured). It belongs to no
    session: reading only, changes to it are not saved."""
    mapper = inspect(model)
    if not mapper.configured:  # as the first constructor call or query would do
        configure_mappers()
    obj = cast(ModelT, mapper.class_manager.new_instance())
    obj.__dict__.update(values)
    return obj


def stored_attributes(model: type[Base]) -> list[tuple[str, str]]:
    """(column name, attribute name) of every column of the model's table, for statements sent
    through asyncpg whose rows become model objects (`loaded`). SQL-expression attributes (a
    `column_property` over another table) are not among them."""
    table = model.__table__
    return [
        (prop.columns[0].name, prop.key)
        for prop in inspect(model).column_attrs
        if isinstance(prop.columns[0], Column) and prop.columns[0].table is table
    ]


def uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )


def created_at_col() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


def updated_at_col() -> Mapped[datetime]:
    return mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )
