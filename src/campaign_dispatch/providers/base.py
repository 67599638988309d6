from typing import Protocol


class SendError(Exception):
    """A failed send attempt; worth retrying."""


class Sender(Protocol):
    async def send(self, *, message_id: int, channel: str, phone: str, text: str) -> None:
        """Deliver `text`; `message_id` is the idempotency key. Raises SendError."""
