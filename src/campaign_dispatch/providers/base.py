"""One interface over every provider: send one message, answer one outcome class.

Adapters only build their request and read their answer (providers/http.py owns the HTTP,
the timeouts and the classes every provider shares: 429, 5xx, transport errors); what
each class then does to the message is decided once, for all of them, by the worker.
"""

from dataclasses import dataclass
from typing import Protocol

from campaign_dispatch.statuses import Channel, ProviderOutcome


@dataclass(frozen=True, slots=True)
class WhatsAppTemplateMessage:
    """A pre-approved WhatsApp template, its body parameters already rendered."""

    name: str
    language: str
    body_params: tuple[str, ...]
    content_sid: str | None = None  # Twilio's Content SID for this template (HX…)


@dataclass(frozen=True, slots=True)
class SendRequest:
    message_id: int  # our id: the idempotency key where the provider takes one
    channel: Channel
    to: str  # the customer's number as stored
    text: str  # the rendered message (WhatsApp text messages and every SMS)
    template: WhatsAppTemplateMessage | None = None  # WhatsApp: send this template instead


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: ProviderOutcome
    provider_message_id: str | None = None  # accepted: the provider's id, receipts carry it
    code: str | None = None  # the provider's own status or error code, as it said it
    detail: str | None = None  # what went wrong, for last_error and the attempt history
    retry_after: float | None = None  # throttled: seconds the provider asked us to wait

    @classmethod
    def accepted(cls, provider_message_id: str | None, code: str | None = None) -> "SendResult":
        return cls(ProviderOutcome.ACCEPTED, provider_message_id, code)


class Sender(Protocol):
    """A provider adapter: `name` is stored on each message it sends, so that receipts
    are matched by (provider, provider_message_id)."""

    name: str

    async def send(self, request: SendRequest) -> SendResult:
        """Never raises for an answer or a transport failure: each is a SendResult."""
        ...

    async def aclose(self) -> None: ...
