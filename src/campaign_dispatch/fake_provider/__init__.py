"""A local stand-in for Africa's Talking, Twilio, WhatsApp Cloud and a webhook gateway:
the same paths and wire formats, recorded requests, scriptable outcomes, and signed
receipts and inbound messages (`campaign-dispatch fake-provider`; docs/providers.md)."""

from campaign_dispatch.fake_provider.app import (
    Behaviour,
    FakeProvider,
    RecordedRequest,
    SentCallback,
)
from campaign_dispatch.fake_provider.server import running_fake_provider, serve
from campaign_dispatch.fake_provider.wire import WEBHOOK_GATEWAY_PATH, Secrets

__all__ = [
    "WEBHOOK_GATEWAY_PATH",
    "Behaviour",
    "FakeProvider",
    "RecordedRequest",
    "Secrets",
    "SentCallback",
    "running_fake_provider",
    "serve",
]
