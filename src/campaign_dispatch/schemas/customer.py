from typing import Annotated

from pydantic import AfterValidator, Field

from campaign_dispatch.compliance.windows import valid_zone
from campaign_dispatch.schemas.common import ReadModel, UtcDateTime, WriteModel
from campaign_dispatch.statuses import ConsentSource

# The number as typed; the service reads it (phones.normalize, DEFAULT_REGION for national
# formats) and stores its E.164 form, or answers 422 naming it.
Phone = Annotated[
    str,
    Field(
        max_length=1000,
        description="E.164, international or national (DEFAULT_REGION) format; spaces, "
        "dashes, dots and brackets allowed. Stored as E.164",
        examples=["+254712345678", "0712 345678"],
    ),
]
OptionalName = Annotated[str | None, Field(default=None, max_length=100)]
OptionalText = Annotated[str | None, Field(default=None, max_length=200)]
TimeZone = Annotated[
    str | None,
    Field(default=None, max_length=64, description="IANA time zone", examples=["Africa/Nairobi"]),
    AfterValidator(lambda value: None if value is None else valid_zone(value)),
]


class CustomerCreate(WriteModel):
    phone: Phone
    first_name: OptionalName = None
    last_name: OptionalName = None
    location: OptionalText = None
    preferred_product: OptionalText = None
    timezone: TimeZone = None


class CustomerRead(ReadModel):
    id: int
    phone: str = Field(description="E.164")
    first_name: str | None
    last_name: str | None
    location: str | None
    preferred_product: str | None
    opted_out_at: UtcDateTime | None = Field(
        description="Set while the customer has opted out: nothing is sent to them"
    )
    timezone: str | None
    created_at: UtcDateTime


class ConsentEventRead(ReadModel):
    opted_out: bool
    source: ConsentSource
    detail: str | None
    at: UtcDateTime


CONSENT_HISTORY_SHOWN = 50


class CustomerDetail(CustomerRead):
    consent_history: list[ConsentEventRead] = Field(
        description=f"Opt-outs and opt-ins, newest first (the last {CONSENT_HISTORY_SHOWN})"
    )


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
