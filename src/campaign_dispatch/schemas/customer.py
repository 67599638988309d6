from typing import Annotated

from pydantic import Field, StringConstraints

from campaign_dispatch.schemas.common import ReadModel, UtcDateTime, WriteModel

Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 \-]{5,30}$", max_length=32)]
OptionalName = Annotated[str | None, Field(default=None, max_length=100)]
OptionalText = Annotated[str | None, Field(default=None, max_length=200)]


class CustomerCreate(WriteModel):
    phone: Phone
    first_name: OptionalName = None
    last_name: OptionalName = None
    location: OptionalText = None
    preferred_product: OptionalText = None


class CustomerRead(ReadModel):
    id: int
    phone: str
    first_name: str | None
    last_name: str | None
    location: str | None
    preferred_product: str | None
    created_at: UtcDateTime


class ImportRowError(ReadModel):
    row: int
    message: str


class CustomerImportResult(ReadModel):
    created: int
    skipped: int
    errors: list[ImportRowError]
