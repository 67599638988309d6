import pytest

from campaign_dispatch.providers.africastalking import AfricasTalkingSender
from campaign_dispatch.providers.registry import (
    ProviderConfigError,
    build_senders,
    build_webhook_handlers,
)
from campaign_dispatch.providers.twilio import TwilioSender
from campaign_dispatch.providers.webhook import WebhookGatewaySender
from campaign_dispatch.providers.whatsapp_cloud import WhatsAppCloudSender
from campaign_dispatch.statuses import Channel
from tests.providers.conftest import make_settings


class Mock:
    name = "mock"

    async def send(self, request):  # pragma: no cover - never called
        raise AssertionError

    async def aclose(self) -> None:
        pass


async def close(senders) -> None:
    for sender in {id(s): s for s in senders.values()}.values():
        await sender.aclose()


async def test_mock_for_both_channels_by_default():
    mock = Mock()
    assert build_senders(make_settings(), mock) == {Channel.SMS: mock, Channel.WHATSAPP: mock}


async def test_each_provider_and_names():
    settings = make_settings(
        sms_provider="africastalking",
        whatsapp_provider="whatsapp_cloud",
        at_username="u",
        at_api_key="k",
        whatsapp_token="t",
        whatsapp_phone_number_id="1",
    )
    senders = build_senders(settings, Mock())
    try:
        assert isinstance(senders[Channel.SMS], AfricasTalkingSender)
        assert isinstance(senders[Channel.WHATSAPP], WhatsAppCloudSender)
        assert senders[Channel.SMS].name == "africastalking"
        assert senders[Channel.WHATSAPP].name == "whatsapp_cloud"
    finally:
        await close(senders)


@pytest.mark.parametrize(
    ("name", "cls", "values"),
    [
        (
            "twilio",
            TwilioSender,
            {"twilio_account_sid": "AC1", "twilio_auth_token": "t", "twilio_from": "+1"},
        ),
        (
            "webhook",
            WebhookGatewaySender,
            {"webhook_provider_url": "http://127.0.0.1:1/x", "webhook_provider_secret": "s"},
        ),
    ],
)
async def test_one_provider_for_both_channels_is_built_once(name, cls, values):
    settings = make_settings(sms_provider=name, whatsapp_provider=name, **values)
    senders = build_senders(settings, Mock())
    try:
        assert isinstance(senders[Channel.SMS], cls)
        assert senders[Channel.SMS] is senders[Channel.WHATSAPP]
        assert senders[Channel.SMS].name == name
    finally:
        await close(senders)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"sms_provider": "africastalking"},
            "SMS_PROVIDER=africastalking needs AT_USERNAME and AT_API_KEY",
        ),
        (
            {"sms_provider": "africastalking", "at_username": "u"},
            "(not set: AT_API_KEY)",
        ),
        (
            {"sms_provider": "twilio", "whatsapp_provider": "twilio", "twilio_account_sid": "AC"},
            "SMS_PROVIDER=twilio and WHATSAPP_PROVIDER=twilio needs TWILIO_ACCOUNT_SID and "
            "TWILIO_AUTH_TOKEN and TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID",
        ),
        (
            {"whatsapp_provider": "whatsapp_cloud", "whatsapp_token": "t"},
            "WHATSAPP_PROVIDER=whatsapp_cloud needs WHATSAPP_TOKEN and WHATSAPP_PHONE_NUMBER_ID",
        ),
        (
            {"sms_provider": "webhook", "webhook_provider_url": "http://x"},
            "(not set: WEBHOOK_PROVIDER_SECRET)",
        ),
    ],
)
def test_missing_settings_are_named(values, message):
    with pytest.raises(ProviderConfigError) as error:
        build_senders(make_settings(**values), Mock())
    assert message in str(error.value)


def test_webhook_handlers_only_where_a_secret_is_set():
    assert build_webhook_handlers(make_settings()) == {}
    handlers = build_webhook_handlers(
        make_settings(
            at_callback_token="a",
            twilio_auth_token="b",
            whatsapp_app_secret="c",
            webhook_provider_secret="d",
        )
    )
    assert sorted(handlers) == ["africastalking", "twilio", "webhook", "whatsapp"]
    assert all(handler.provider == key for key, handler in handlers.items())
    assert sorted(build_webhook_handlers(make_settings(whatsapp_app_secret="c"))) == ["whatsapp"]
