import re
from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator

from campaign_dispatch.errors import ErrorCode
from campaign_dispatch.models.base import MAX_ID as MAX_ID

Id = Annotated[int, Field(gt=0, le=MAX_ID, strict=True)]
"""An id in a JSON body: a JSON integer only. Lax parsing would take `true` as 1, and "7"
or 7.0 as 7, none of which the documented `integer` is."""

_CANONICAL_ID = re.compile(r"[1-9][0-9]*")
_MAX_ID_DIGITS = len(str(MAX_ID))


def canonical_id(value: object) -> object:
    """An id in a URL path has one spelling: ASCII digits, no sign, no leading zero.

    A loose integer parser also reads "1.0", "+1", " 1", "1_0", "01" and a full-width
    digit one (U+FF11) as 1; accepting those would give one resource many URLs, and
    anything keyed on the path (the send rate limit, logs, caches) could be walked around.
    """
    if not isinstance(value, str):
        return value
    if not _CANONICAL_ID.fullmatch(value):
        raise ValueError(
            "must be a positive whole number in decimal digits, "
            "without sign, spaces, separators or leading zeros"
        )
    if len(value) > _MAX_ID_DIGITS:  # also spares int() a 4 000-digit string
        raise ValueError(f"must be at most {MAX_ID}")
    return int(value)


MAX_ERROR_DETAILS = 100
"""An error lists at most this many `details`; its message says how many were left out."""


def more_not_shown(total: int, shown: int) -> str:
    """The end of a message whose list was cut at `shown` of `total` entries ("" if not)."""
    return f" …and {total - shown} more" if total > shown else ""


def _to_utc_z(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="seconds") + "Z"


UtcDateTime = Annotated[datetime, PlainSerializer(_to_utc_z, return_type=str)]


def to_naive_utc(value: datetime) -> datetime:
    """Incoming times without a zone are taken as UTC; all are stored as naive UTC."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class WriteModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_characters(cls, value: object) -> object:
        # PostgreSQL text cannot hold NUL; reject it here rather than fail in the driver.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class Pagination(BaseModel):
    page: int
    page_size: int
    total_count: int
    total_pages: int
    snapshot_id: int
    next_cursor: str | None


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    data: list[T]
    pagination: Pagination


class ErrorDetail(BaseModel):
    field: str | None = None
    message: str


class ErrorBody(BaseModel):
    code: ErrorCode
    message: str
    details: list[ErrorDetail] | None = None


class ErrorEnvelope(BaseModel):
    error: ErrorBody
