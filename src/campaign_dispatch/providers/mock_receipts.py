"""Delivery receipts for the mock's accepted messages, so the embedded mode shows the
delivery funnel: a share MOCK_DELIVERY_RATE reported delivered, the rest undelivered,
MOCK_DELIVERY_DELAY_MS after the send, applied in batches through the same code as a
real provider's webhook (repositories.receipts.apply_receipts). With none waiting, the
loop sleeps until the mock reports one."""

import asyncio
import contextlib
import random
import time
from collections import deque

import structlog

from campaign_dispatch import metrics
from campaign_dispatch.clock import utcnow
from campaign_dispatch.db import Database
from campaign_dispatch.providers.events import Receipt
from campaign_dispatch.repositories.receipts import apply_receipts
from campaign_dispatch.statuses import DeliveryStatus

log = structlog.get_logger(__name__)


class MockReceipts:
    def __init__(self, delivery_rate: float, delay_ms: int, seed: int | None = None) -> None:
        self.delivery_rate = delivery_rate
        self.delay = delay_ms / 1000
        self._random = random.Random(seed)
        self._due: deque[tuple[float, Receipt]] = deque()
        self._reported = asyncio.Event()

    def report(self, provider: str, provider_message_id: str) -> None:
        status = (
            DeliveryStatus.DELIVERED
            if self._random.random() < self.delivery_rate
            else DeliveryStatus.UNDELIVERED
        )
        error = None if status == DeliveryStatus.DELIVERED else "mock: handset unreachable"
        receipt = Receipt(provider, provider_message_id, status, error)
        self._due.append((time.monotonic() + self.delay, receipt))
        self._reported.set()

    async def run(self, stop: asyncio.Event, db: Database) -> None:
        """Apply the receipts that are due, a batch at a time, until `stop`; those still
        waiting then are dropped (a real provider's receipts can be lost too)."""
        interval = min(max(self.delay, 0.05), 0.5)  # receipts due meanwhile make one batch
        while not stop.is_set():
            await self.flush(db)
            if self._due:  # the earliest first: reported in order, with the same delay
                delay = max(self._due[0][0] - time.monotonic(), interval)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                continue
            self._reported.clear()
            waiters = [
                asyncio.ensure_future(stop.wait()),
                asyncio.ensure_future(self._reported.wait()),
            ]
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    async def flush(self, database: Database, limit: int = 5000) -> int:
        now = time.monotonic()
        due: list[Receipt] = []
        while self._due and self._due[0][0] <= now and len(due) < limit:
            due.append(self._due.popleft()[1])
        if not due:
            return 0
        try:
            async with database.sessions.begin() as session:
                counts = await apply_receipts(session, due, utcnow())
        except Exception:
            log.exception("mock receipts not applied", count=len(due))
            return 0
        metrics.count_receipts("mock", counts)
        return len(due)
