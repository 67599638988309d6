"""The provider boundary: what the worker hands a message to."""

from campaign_dispatch.providers.base import Sender, SendError
from campaign_dispatch.providers.mock import MockSender

__all__ = ["MockSender", "SendError", "Sender"]
