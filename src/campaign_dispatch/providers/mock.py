"""The mock that stands in for a real SMS/WhatsApp provider (the default: no account needed)."""

import asyncio
import random
from collections import OrderedDict

from campaign_dispatch.providers.base import SendRequest, SendResult
from campaign_dispatch.providers.mock_receipts import MockReceipts
from campaign_dispatch.statuses import ProviderOutcome

_MOCK_ERRORS = (
    "timeout talking to carrier",
    "carrier rejected the message",
    "503 service unavailable",
    "carrier busy",
)


class MockSender:
    """Fails (retryable) with probability `failure_rate` after `latency_ms`; seedable for
    repeatable runs.

    Like a real provider given an idempotency key, it accepts a message id once: a repeat
    of an id it already delivered is accepted without delivering again (`duplicates`
    counts them) and answers the same provider id.
    """

    name = "mock"

    def __init__(
        self,
        failure_rate: float = 0.0,
        latency_ms: int = 0,
        seed: int | None = None,
        memory: int = 1_000_000,
        receipts: MockReceipts | None = None,
    ) -> None:
        self.receipts = receipts
        self.failure_rate = failure_rate
        self.latency = latency_ms / 1000
        self._random = random.Random(seed)
        self._delivered: OrderedDict[int, None] = OrderedDict()
        self._memory = memory
        self.delivered = 0
        self.duplicates = 0
        self.failures = 0

    async def send(self, request: SendRequest) -> SendResult:
        if self.latency:
            await asyncio.sleep(self.latency)
        provider_id = f"mock-{request.message_id}"
        if request.message_id in self._delivered:
            self.duplicates += 1
            return SendResult.accepted(provider_id)
        if self.failure_rate and self._random.random() < self.failure_rate:
            self.failures += 1
            return SendResult(ProviderOutcome.RETRYABLE, detail=self._random.choice(_MOCK_ERRORS))
        self._delivered[request.message_id] = None
        if len(self._delivered) > self._memory:
            self._delivered.popitem(last=False)
        self.delivered += 1
        if self.receipts is not None:
            self.receipts.report(self.name, provider_id)
        return SendResult.accepted(provider_id)

    async def aclose(self) -> None:
        return None
