"""The senders and webhook handlers SMS_PROVIDER and WHATSAPP_PROVIDER name."""

from campaign_dispatch.config import Settings
from campaign_dispatch.providers.base import Sender
from campaign_dispatch.providers.events import WebhookHandler
from campaign_dispatch.statuses import Channel


class ProviderConfigError(ValueError):
    """A provider is chosen but a setting it needs is missing: the process does not start."""


def build_senders(settings: Settings, mock: Sender) -> dict[Channel, Sender]:
    """One sender per channel (one pooled HTTP client per provider per process: a provider
    chosen for both channels is built once)."""
    chosen = {Channel.SMS: settings.sms_provider, Channel.WHATSAPP: settings.whatsapp_provider}
    built: dict[str, Sender] = {"mock": mock}
    senders: dict[Channel, Sender] = {}
    for channel, name in chosen.items():
        if name not in built:
            raise ProviderConfigError(f"provider {name!r} is not built yet")
        senders[channel] = built[name]
    return senders


def build_webhook_handlers(settings: Settings) -> dict[str, WebhookHandler]:
    """Every provider's handler whose secret is configured, by route segment: receipts
    may still arrive for messages sent before a switch of provider."""
    return {}
