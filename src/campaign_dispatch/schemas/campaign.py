import re
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from campaign_dispatch.schemas.common import Id, ReadModel, UtcDateTime, WriteModel, to_naive_utc
from campaign_dispatch.schemas.customer import CustomerRead
from campaign_dispatch.statuses import (
    AttemptOutcome,
    CampaignStatus,
    Channel,
    DeliveryStatus,
    FailureCode,
    MessageStatus,
)

CustomerIds = Annotated[list[Id], Field(min_length=1, max_length=100_000)]

_DATE_TIME_START = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


Name = Annotated[str, Field(min_length=1, max_length=200)]
Template = Annotated[str, Field(min_length=1)]


SegmentValue = Annotated[str, Field(min_length=1, max_length=200)]


class Segment(WriteModel):
    """Customers whose given fields all match, ignoring case; `{}` is every customer.
    Opted-out customers are always left out."""

    location: SegmentValue | None = None
    preferred_product: SegmentValue | None = None

    def filters(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class WhatsAppTemplate(WriteModel):
    """A template approved in WhatsApp Manager, sent instead of free text (which WhatsApp
    delivers only inside a customer's 24-hour service window). Each body parameter is
    rendered for the customer as base_template is."""

    name: Annotated[str, Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$")]
    language: Annotated[str, Field(min_length=2, max_length=15, pattern=r"^[A-Za-z_]+$")] = Field(
        description="The template's language code, like en or en_US"
    )
    body_params: Annotated[list[Template], Field(max_length=100)] = Field(
        default_factory=list, description='Its {{1}}, {{2}}, … in order, e.g. ["{first_name}"]'
    )
    content_sid: Annotated[str, Field(pattern=r"^HX[0-9a-fA-F]{32}$")] | None = Field(
        default=None,
        description="Through Twilio (WHATSAPP_PROVIDER=twilio): the approved template's "
        "Content SID (HX…), sent as ContentSid with the body parameters as ContentVariables; "
        "without it Twilio is sent the rendered text. The WhatsApp Cloud API ignores it.",
    )


Clock = Annotated[
    str,
    Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["08:00"]),
]


class SendWindowSpec(WriteModel):
    """Quiet hours: messages go out only between `start` and `end` on each recipient's
    own clock (their `timezone`, else their number's country's, else DEFAULT_TIMEZONE).
    A start after the end wraps past midnight: 21:00 to 06:00 is the night."""

    start: Clock
    end: Clock

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise PydanticCustomError("empty_window", "start and end must differ")
        return self


class _Audience(WriteModel):
    """An audience as a list of ids or as a segment, not both."""

    customer_ids: CustomerIds | None = None
    segment: Segment | None = Field(
        default=None, description="Instead of customer_ids: the customers matching it"
    )

    @model_validator(mode="after")
    def _one_audience(self) -> Self:
        if self.customer_ids is not None and self.segment is not None:
            raise PydanticCustomError("one_audience", "give customer_ids or segment, not both")
        return self


class _Scheduled(WriteModel):
    """`scheduled_at`, `send_window` and `expires_at`, as create and update take them."""

    scheduled_at: UtcDateTime | None = None
    send_window: SendWindowSpec | None = Field(
        default=None,
        description="Quiet hours on each recipient's clock (unset: DEFAULT_SEND_WINDOW)",
    )
    expires_at: UtcDateTime | None = Field(
        default=None,
        description="Nothing is sent after this: messages not sent by then fail with EXPIRED",
    )

    @field_validator("scheduled_at", "expires_at", mode="before")
    @classmethod
    def _a_date_time(cls, value: object) -> object:
        # The document says an ISO 8601 date-time string; lax parsing would also take
        # 0, 1.5e9, true or "1700000000" as a Unix time, and a bare date as its midnight.
        if value is None or isinstance(value, datetime):
            return value
        if isinstance(value, str) and _DATE_TIME_START.match(value):
            return value
        raise ValueError("must be an ISO 8601 date-time, like 2030-01-31T09:00:00Z")

    @field_validator("scheduled_at", "expires_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            return to_naive_utc(value)
        except OverflowError:
            raise ValueError("out of range") from None


class CampaignCreate(_Audience, _Scheduled):
    """`customer_ids` or `segment`: the audience it is sent to at scheduled_at, or when
    sent without one (a segment is resolved then, not now)."""

    name: Name
    channel: Channel
    base_template: Template
    whatsapp_template: WhatsAppTemplate | None = Field(
        default=None, description="WhatsApp only: send this approved template instead"
    )

    @model_validator(mode="after")
    def _template_for_whatsapp(self) -> Self:
        if self.whatsapp_template is not None and self.channel != Channel.WHATSAPP:
            raise PydanticCustomError("whatsapp_only", "whatsapp_template is for WhatsApp")
        return self


class CampaignUpdate(_Audience, _Scheduled):
    """Only the fields given change. `scheduled_at: null` unschedules (the campaign is a
    draft again); `customer_ids` or `segment` replaces the audience (either one replaces
    the other), `null` clears it."""

    name: Name | None = None
    channel: Channel | None = None
    base_template: Template | None = None
    whatsapp_template: WhatsAppTemplate | None = Field(
        default=None, description="WhatsApp only; null sends base_template as text again"
    )

    @field_validator("name", "channel", "base_template")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may be changed, not removed")
        return value


class CampaignSummary(ReadModel):
    id: int
    name: str
    channel: Channel
    status: CampaignStatus
    scheduled_at: UtcDateTime | None
    created_at: UtcDateTime


class CampaignStats(ReadModel):
    total: int = 0
    pending: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    cancelled: int = 0
    delivered: int = Field(default=0, description="Receipts said delivered (or read)")
    undelivered: int = Field(default=0, description="Receipts said not delivered")


class CampaignDetail(CampaignSummary):
    base_template: str
    updated_at: UtcDateTime
    audience_size: int = Field(description="Customers in the stored customer_ids audience")
    segment: Segment | None = Field(description="The stored segment audience, if any")
    pause_reason: str | None = Field(
        description="Why the campaign is paused (an operator, or the automatic pause's cause)"
    )
    whatsapp_template: WhatsAppTemplate | None
    send_window: SendWindowSpec | None = Field(
        description="Its own quiet hours (null: DEFAULT_SEND_WINDOW, if set, applies)"
    )
    expires_at: UtcDateTime | None
    stats: CampaignStats
    waiting_for_window: int = Field(
        0, description="Pending messages held until their recipient's send window opens"
    )
    next_window_opens_at: UtcDateTime | None = Field(
        None, description="When the first of those goes out"
    )


class SendRequest(_Audience):
    """`customer_ids` or `segment`; neither sends to the audience given at creation."""


class PauseRequest(WriteModel):
    reason: Annotated[str, Field(min_length=1, max_length=500)] | None = Field(
        default=None, description="Shown with the paused campaign; default: paused by an operator"
    )


class RetryResponse(ReadModel):
    campaign_id: int
    messages_queued: int
    status: CampaignStatus


class SendResponse(RetryResponse):
    skipped_opted_out: int = Field(
        default=0, description="Customers of the audience left out: they opted out"
    )


class PreviewRequest(WriteModel):
    customer_id: Id
    override_template: Annotated[str, Field(min_length=1)] | None = None


class TemplatePreviewRequest(WriteModel):
    template: Annotated[str, Field(min_length=1)]
    customer_id: Id
    channel: Channel = Field(
        default=Channel.SMS, description="The channel whose length bound the rendering must fit"
    )


class PreviewResponse(ReadModel):
    rendered_message: str
    used_template: str
    customer: CustomerRead
    characters: int
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int


class MessageRead(ReadModel):
    id: int
    campaign_id: int
    customer_id: int
    status: MessageStatus
    rendered_content: str | None
    retry_count: int
    last_error: str | None
    error_code: FailureCode | None = Field(description="Why it failed, when it did")
    provider: str | None = Field(description="The provider adapter that took it")
    provider_message_id: str | None = Field(description="The provider's id for it")
    delivery_status: DeliveryStatus | None = Field(
        description="What the provider's delivery receipts said (never moves back)"
    )
    delivered_at: UtcDateTime | None
    created_at: UtcDateTime
    updated_at: UtcDateTime


class AttemptRead(ReadModel):
    attempt: int = Field(description="1 for the message's first attempt")
    at: UtcDateTime
    outcome: AttemptOutcome = Field(
        description="sent; retry (failed, tried again later); failed (the message failed)"
    )
    error_code: FailureCode | None
    error: str | None
    provider_message_id: str | None


class MessageDetail(MessageRead):
    attempts: list[AttemptRead] = Field(description="Every attempt, oldest first")


class Placeholder(ReadModel):
    name: str = Field(description="Write it as {name}, or {name|fallback}")
    label: str


class PlaceholderList(ReadModel):
    placeholders: list[Placeholder]
