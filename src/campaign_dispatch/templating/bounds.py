"""How long a rendered message may be on each channel.

A template is at most MAX_TEMPLATE_LENGTH characters, but what it renders to is not:
every placeholder brings in a customer field of its own length. A message longer than
its channel carries is refused as a TemplateError, the same as a template that cannot be
rendered: retrying cannot make it shorter.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from campaign_dispatch.statuses import Channel
from campaign_dispatch.templating.engine import TemplateError

MAX_SMS_LENGTH: Final = 1600
"""Characters in one SMS: the common provider maximum for a concatenated SMS."""

MAX_WHATSAPP_LENGTH: Final = 4096
"""Characters in one WhatsApp text message body."""

MAX_RENDERED_LENGTH: Final[Mapping[Channel, int]] = MappingProxyType(
    {Channel.SMS: MAX_SMS_LENGTH, Channel.WHATSAPP: MAX_WHATSAPP_LENGTH}
)

_NAMES: Final[Mapping[Channel, str]] = MappingProxyType(
    {Channel.SMS: "an SMS", Channel.WHATSAPP: "a WhatsApp message"}
)


def check_rendered_length(text: str, channel: str) -> str:
    """Return `text` if `channel` can carry it, else raise TemplateError naming both lengths.

    Characters are counted as `len(text)`, as the preview's `characters` does.
    """
    kind = Channel(channel)
    bound = MAX_RENDERED_LENGTH[kind]
    if len(text) > bound:
        raise TemplateError(
            f"The rendered message is {len(text)} characters long; "
            f"{_NAMES[kind]} may be at most {bound}",
            position=0,
        )
    return text
