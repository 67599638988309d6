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


class MessageStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


SENDABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
"""A campaign in one of these can be sent (`POST /campaigns/{id}/send`); not sent yet, it
can also be edited or deleted."""

UNFINISHED = (MessageStatus.PENDING, MessageStatus.SENDING)
"""A message in one of these may still be attempted; a campaign with one is not done."""

FINAL = (MessageStatus.SENT, MessageStatus.FAILED)


def sql_list(values: tuple[StrEnum, ...] | type[StrEnum]) -> str:
    """`'a', 'b'` for a CHECK constraint or an index predicate (values are constants)."""
    return ", ".join(f"'{value.value}'" for value in values)
