"""The posts table as statements sent straight through asyncpg see it
(`instasched.db.driver_connection`): column names, rows to model attributes, JSONB parameters.

Shared by the posts and the publishing repositories, the two places that bypass the ORM.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy.dialects.postgresql import JSONB

from instasched.models.post import ScheduledPost

# attribute → column, and back ("metadata" is `meta` on the model)
COLUMN_OF: dict[str, str] = {
    prop.key: prop.columns[0].name for prop in ScheduledPost.__mapper__.column_attrs
}
ATTRIBUTE_OF: dict[str, str] = {column: attr for attr, column in COLUMN_OF.items()}
# Every column, in the table's order, for SELECT / RETURNING.
POST_COLUMN_NAMES = tuple(c.name for c in ScheduledPost.__table__.columns)
POST_COLUMNS = ", ".join(POST_COLUMN_NAMES)
_JSON_COLUMNS = frozenset(
    c.name for c in ScheduledPost.__table__.columns if isinstance(c.type, JSONB)
)


def post_attributes(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row of every column as the model's keyword arguments."""
    return {ATTRIBUTE_OF[column]: value for column, value in row.items()}


def column_param(column: str, value: Any) -> Any:
    """A value for `column` as asyncpg takes it: SQLAlchemy's JSONB codec on the connection
    takes JSON text."""
    return orjson.dumps(value).decode() if column in _JSON_COLUMNS else value
