"""Every status and channel the service knows, defined once.

The models' CHECK constraints, the API schemas (and through the OpenAPI document the
dashboard's types), and the SQL all take their values from these enums.
"""

from enum import StrEnum


class Channel(StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    PAUSED = "paused"
    CANCELLED = "cancelled"


class MessageStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class AttemptOutcome(StrEnum):
    """What one attempt of a message came to (its history keeps every one)."""

    SENT = "sent"
    RETRY = "retry"  # failed; the message is tried again after a backoff
    FAILED = "failed"  # failed; the message failed with it


class DeliveryStatus(StrEnum):
    """What the provider's delivery receipts said, in order: a later one never moves a
    message back (`read` beats `delivered`, and either beats `undelivered`)."""

    UNDELIVERED = "undelivered"
    DELIVERED = "delivered"
    READ = "read"


DELIVERY_RANK = {DeliveryStatus.UNDELIVERED: 1, DeliveryStatus.DELIVERED: 2, DeliveryStatus.READ: 3}


class ProviderOutcome(StrEnum):
    """The class of a provider's answer to one send; each class has one behaviour, the
    same for every provider (the worker's decisions)."""

    ACCEPTED = "accepted"  # sent; its provider_message_id kept
    RETRYABLE = "retryable"  # tried again after a backoff, counted toward MAX_RETRIES
    THROTTLED = "throttled"  # tried again after Retry-After, not counted; the rate slows
    TERMINAL = "terminal"  # failed at once
    OPTED_OUT = "opted_out"  # failed at once; the recipient asked the provider to stop
    ACCOUNT = "account"  # the campaign pauses; the message waits, no attempt counted


class FailureCode(StrEnum):
    """Why an attempt failed, as its `error_code`. A terminal failure cannot get better by
    trying again; retry-failed leaves its messages failed."""

    PROVIDER_ERROR = "PROVIDER_ERROR"
    PROVIDER_TIMEOUT = "PROVIDER_TIMEOUT"
    PERSONALIZATION_FAILED = "PERSONALIZATION_FAILED"
    TEMPLATE_ERROR = "TEMPLATE_ERROR"
    CUSTOMER_NOT_FOUND = "CUSTOMER_NOT_FOUND"
    CAMPAIGN_NOT_FOUND = "CAMPAIGN_NOT_FOUND"
    LEASE_EXPIRED = "LEASE_EXPIRED"
    PROVIDER_REJECTED = "PROVIDER_REJECTED"  # terminal: invalid number, template refused
    PROVIDER_THROTTLED = "PROVIDER_THROTTLED"
    PROVIDER_ACCOUNT = "PROVIDER_ACCOUNT"
    OPTED_OUT = "OPTED_OUT"  # the provider said so, or the customer had opted out
    EXPIRED = "EXPIRED"  # not sent by the campaign's expires_at: never sent late


class ConsentSource(StrEnum):
    """Where a customer's opt-out or opt-in came from (each change is kept)."""

    API = "api"  # POST /customers/{id}/opt-out or /opt-in
    INBOUND = "inbound"  # a STOP or START keyword in a message they sent us
    PROVIDER = "provider"  # a provider refused a send: the recipient opted out there


WAITING_FOR_WINDOW = "window_wait"
"""campaign_message_counts' key for pending messages held until their recipient's send
window opens (beside the message and delivery statuses)."""


SENDABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
"""A campaign in one of these can be sent (`POST /campaigns/{id}/send`); not sent yet, it
can also be edited or deleted."""

UNFINISHED = (MessageStatus.PENDING, MessageStatus.SENDING)
"""A message in one of these may still be attempted; a campaign with one is not done."""

FINAL = (MessageStatus.SENT, MessageStatus.FAILED)
"""A message in one of these was attempted and will not be again (unless retry-failed)."""

DONE = (CampaignStatus.SENT, CampaignStatus.FAILED, CampaignStatus.CANCELLED)
"""A campaign in one of these sends nothing more (retry-failed may reopen sent or failed)."""

RETRYABLE = (CampaignStatus.SENT, CampaignStatus.FAILED)
"""A campaign in one of these takes `POST /campaigns/{id}/retry-failed`."""

CANCELLABLE = (
    CampaignStatus.DRAFT,
    CampaignStatus.SCHEDULED,
    CampaignStatus.SENDING,
    CampaignStatus.PAUSED,
)

TERMINAL_FAILURES = (
    FailureCode.TEMPLATE_ERROR,
    FailureCode.CUSTOMER_NOT_FOUND,
    FailureCode.CAMPAIGN_NOT_FOUND,
    FailureCode.PROVIDER_REJECTED,
    FailureCode.OPTED_OUT,
    FailureCode.EXPIRED,
)
"""Failures that trying again cannot fix: retry-failed leaves their messages failed."""


def sql_list(values: tuple[StrEnum, ...] | type[StrEnum]) -> str:
    """`'a', 'b'` for a CHECK constraint or an index predicate (values are constants)."""
    return ", ".join(f"'{value.value}'" for value in values)
