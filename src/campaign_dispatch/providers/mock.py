"""The mock that stands in for a real SMS/WhatsApp provider (the default: no account needed)."""

import asyncio
import random
from collections import OrderedDict

from campaign_dispatch.providers.base import SendError

_MOCK_ERRORS = (
    "mock provider: timeout talking to carrier",
    "mock provider: carrier rejected the message",
    "mock provider: 503 service unavailable",
    "mock provider: throttled by carrier",
)


class MockSender:
    """Fails with probability `failure_rate` after `latency_ms`; seedable for repeatable runs.

    Like a real provider given an idempotency key, it accepts a message id once: a repeat
    of an id it already delivered succeeds without delivering again (`duplicates` counts them).
    """

    def __init__(
        self,
        failure_rate: float = 0.0,
        latency_ms: int = 0,
        seed: int | None = None,
        memory: int = 1_000_000,
    ) -> None:
        self.failure_rate = failure_rate
        self.latency = latency_ms / 1000
        self._random = random.Random(seed)
        self._delivered: OrderedDict[int, None] = OrderedDict()
        self._memory = memory
        self.delivered = 0
        self.duplicates = 0
        self.failures = 0

    async def send(self, *, message_id: int, channel: str, phone: str, text: str) -> None:
        if self.latency:
            await asyncio.sleep(self.latency)
        if message_id in self._delivered:
            self.duplicates += 1
            return
        if self.failure_rate and self._random.random() < self.failure_rate:
            self.failures += 1
            raise SendError(self._random.choice(_MOCK_ERRORS))
        self._delivered[message_id] = None
        if len(self._delivered) > self._memory:
            self._delivered.popitem(last=False)
        self.delivered += 1
