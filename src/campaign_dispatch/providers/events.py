"""What providers tell us back, normalized: delivery receipts and inbound messages.

Each webhook handler has two duties, verifying the request as its provider signs it and
turning the payload into these events; the rest of the service never reads a provider's
format. The raw payload stays beside each event, so nothing the provider said is lost.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from campaign_dispatch.statuses import DeliveryStatus


@dataclass(frozen=True, slots=True)
class Receipt:
    provider: str
    provider_message_id: str
    status: DeliveryStatus
    error: str | None = None  # the provider's reason for an undelivered message
    at: datetime | None = None  # when the provider says it happened (None: on arrival)
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Inbound:
    provider: str
    from_number: str
    to_number: str
    text: str
    provider_message_id: str | None = None
    received_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """The parts of an HTTP request a handler verifies and parses."""

    method: str
    url: str  # the public URL the provider called (PUBLIC_BASE_URL + path + query)
    headers: Mapping[str, str]  # lower-cased names
    query: Mapping[str, str]
    body: bytes


class WebhookRejected(Exception):
    """A missing or bad signature or token: 401, and nothing changes."""


class WebhookHandler(Protocol):
    provider: str  # the route segment: /webhooks/{provider}/...

    def verify(self, request: WebhookRequest) -> None:
        """Raise WebhookRejected unless the request carries the provider's proof
        (compared in constant time)."""
        ...

    def parse(self, request: WebhookRequest) -> list[Receipt | Inbound]:
        """The receipts and inbound messages in a verified request (statuses that are not
        receipts, such as `queued`, are left out)."""
        ...
