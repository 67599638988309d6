"""A rendered message is bounded per channel: 1 600 characters for SMS, 4 096 for WhatsApp.

A template is at most 1 600 characters, but each placeholder brings in a customer field
of up to 200: a short template can render far past what a provider accepts.
"""

import pytest

from campaign_dispatch.statuses import Channel
from campaign_dispatch.templating import (
    MAX_RENDERED_LENGTH,
    MAX_SMS_LENGTH,
    MAX_WHATSAPP_LENGTH,
    TemplateError,
    TemplatePersonalizer,
    check_rendered_length,
)

FIELD = "x" * 200  # the longest location a customer may have


def test_the_bounds_are_the_providers_maxima():
    assert (MAX_SMS_LENGTH, MAX_WHATSAPP_LENGTH) == (1600, 4096)
    assert MAX_RENDERED_LENGTH == {Channel.SMS: 1600, Channel.WHATSAPP: 4096}


@pytest.mark.parametrize(("channel", "bound"), [("sms", 1600), ("whatsapp", 4096)])
def test_up_to_the_bound_passes_and_one_more_is_a_template_error(channel, bound):
    assert check_rendered_length("a" * bound, channel) == "a" * bound
    with pytest.raises(TemplateError) as caught:
        check_rendered_length("a" * (bound + 1), channel)
    assert str(caught.value).startswith(f"The rendered message is {bound + 1} characters long")
    assert str(caught.value).endswith(f"may be at most {bound}")


async def test_the_personalizer_refuses_an_sms_rendered_past_1600():
    personalizer = TemplatePersonalizer()
    template = "{location}" * 9  # 90 characters of template, 1 800 rendered
    with pytest.raises(TemplateError) as caught:
        await personalizer.personalize(template, {"location": FIELD}, channel=Channel.SMS)
    message = str(caught.value)
    assert "1800 characters" in message
    assert message.endswith("; an SMS may be at most 1600")


async def test_the_same_rendering_fits_a_whatsapp_message():
    personalizer = TemplatePersonalizer()
    rendered = await personalizer.personalize(
        "{location}" * 9, {"location": FIELD}, channel=Channel.WHATSAPP
    )
    assert len(rendered) == 1800


async def test_the_personalizer_refuses_a_whatsapp_message_past_4096():
    personalizer = TemplatePersonalizer()
    with pytest.raises(TemplateError) as caught:
        await personalizer.personalize(
            "{location}" * 21, {"location": FIELD}, channel=Channel.WHATSAPP
        )
    assert "4200 characters" in str(caught.value)
    assert "WhatsApp message may be at most 4096" in str(caught.value)


async def test_the_bound_counts_the_rendering_not_the_template():
    personalizer = TemplatePersonalizer()
    # Exactly the bound, reached through fields: allowed.
    rendered = await personalizer.personalize(
        "{location}" * 8, {"location": FIELD}, channel=Channel.SMS
    )
    assert len(rendered) == MAX_SMS_LENGTH
