"""The senders and webhook handlers SMS_PROVIDER and WHATSAPP_PROVIDER name."""

from collections.abc import Callable

from campaign_dispatch.config import Settings
from campaign_dispatch.providers.base import Sender
from campaign_dispatch.providers.events import WebhookHandler
from campaign_dispatch.statuses import Channel


class ProviderConfigError(ValueError):
    """A provider is chosen but a setting it needs is missing: the process does not start."""


# What each provider needs, as (environment variable, value) pairs; any unset → refused.
def _required(settings: Settings, name: str) -> list[tuple[str, str | None]]:
    if name == "africastalking":
        return [("AT_USERNAME", settings.at_username), ("AT_API_KEY", settings.at_api_key)]
    if name == "twilio":
        return [
            ("TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
            ("TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
        ]
    if name == "whatsapp_cloud":
        return [
            ("WHATSAPP_TOKEN", settings.whatsapp_token),
            ("WHATSAPP_PHONE_NUMBER_ID", settings.whatsapp_phone_number_id),
        ]
    if name == "webhook":
        return [
            ("WEBHOOK_PROVIDER_URL", settings.webhook_provider_url),
            ("WEBHOOK_PROVIDER_SECRET", settings.webhook_provider_secret),
        ]
    return []


def _check(settings: Settings, name: str, variables: list[str]) -> None:
    """Refuse a provider whose settings are incomplete, naming what is missing and the
    variables that chose it (e.g. `SMS_PROVIDER=africastalking needs AT_USERNAME and
    AT_API_KEY`)."""
    required = _required(settings, name)
    needs = [env for env, _ in required]
    missing = [env for env, value in required if not value]
    if name == "twilio":
        needs.append("TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID")
        if not (settings.twilio_from or settings.twilio_messaging_service_sid):
            missing.append(needs[-1])
    if missing:
        chosen = " and ".join(f"{variable}={name}" for variable in variables)
        raise ProviderConfigError(
            f"{chosen} needs {' and '.join(needs)} (not set: {', '.join(missing)})"
        )


def _factory(name: str) -> Callable[[Settings], Sender]:
    # Imported here: a process running only the mock never loads the HTTP adapters.
    if name == "africastalking":
        from campaign_dispatch.providers.africastalking import AfricasTalkingSender

        return AfricasTalkingSender
    if name == "twilio":
        from campaign_dispatch.providers.twilio import TwilioSender

        return TwilioSender
    if name == "whatsapp_cloud":
        from campaign_dispatch.providers.whatsapp_cloud import WhatsAppCloudSender

        return WhatsAppCloudSender
    if name == "webhook":
        from campaign_dispatch.providers.webhook import WebhookGatewaySender

        return WebhookGatewaySender
    raise ProviderConfigError(f"unknown provider {name!r}")


def build_senders(settings: Settings, mock: Sender) -> dict[Channel, Sender]:
    """One sender per channel (one pooled HTTP client per provider per process: a provider
    chosen for both channels is built once)."""
    chosen = {Channel.SMS: settings.sms_provider, Channel.WHATSAPP: settings.whatsapp_provider}
    variables = {Channel.SMS: "SMS_PROVIDER", Channel.WHATSAPP: "WHATSAPP_PROVIDER"}
    for name in set(chosen.values()) - {"mock"}:
        _check(settings, name, [variables[c] for c, n in chosen.items() if n == name])
    built: dict[str, Sender] = {"mock": mock}
    senders: dict[Channel, Sender] = {}
    for channel, name in chosen.items():
        if name not in built:
            built[name] = _factory(name)(settings)
        senders[channel] = built[name]
    return senders


def build_webhook_handlers(settings: Settings) -> dict[str, WebhookHandler]:
    """Every provider's handler whose secret is configured, by route segment: receipts
    may still arrive for messages sent before a switch of provider."""
    from campaign_dispatch.providers.africastalking import AfricasTalkingWebhook
    from campaign_dispatch.providers.twilio import TwilioWebhook
    from campaign_dispatch.providers.webhook import WebhookGatewayWebhook
    from campaign_dispatch.providers.whatsapp_cloud import WhatsAppCloudWebhook

    handlers: list[WebhookHandler] = []
    if settings.at_callback_token:
        handlers.append(AfricasTalkingWebhook(settings.at_callback_token))
    if settings.twilio_auth_token:
        handlers.append(TwilioWebhook(settings.twilio_auth_token))
    if settings.whatsapp_app_secret:
        handlers.append(WhatsAppCloudWebhook(settings.whatsapp_app_secret))
    if settings.webhook_provider_secret:
        handlers.append(WebhookGatewayWebhook(settings.webhook_provider_secret))
    return {handler.provider: handler for handler in handlers}
