import re
from typing import Annotated

from pydantic import BeforeValidator, Field, StringConstraints

from campaign_dispatch.schemas.common import ReadModel, UtcDateTime, WriteModel

_SEPARATORS = re.compile(r"[\s\-]")


def _compact(value: object) -> object:
    """'+254 712-345 678' and '+254712345678' are one number: store it one way."""
    return _SEPARATORS.sub("", value) if isinstance(value, str) else value


Phone = Annotated[
    str, BeforeValidator(_compact), StringConstraints(pattern=r"^\+?[0-9]{6,20}$", max_length=32)
]
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
    errors: list[ImportRowError] = Field(
        description="The first 100 rows that could not be imported, in file order"
    )
    errors_not_shown: int = Field(
        0, description="How many more rows could not be imported (0 when `errors` is complete)"
    )
