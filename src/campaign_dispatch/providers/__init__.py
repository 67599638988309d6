"""The provider boundary: what the worker hands a message to, and what comes back."""

from campaign_dispatch.providers.base import (
    Sender,
    SendRequest,
    SendResult,
    WhatsAppTemplateMessage,
)
from campaign_dispatch.providers.mock import MockSender

__all__ = ["MockSender", "SendRequest", "SendResult", "Sender", "WhatsAppTemplateMessage"]
