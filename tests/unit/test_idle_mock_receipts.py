"""The mock's receipt loop sleeps while it holds no receipt, and applies one at its time."""

import asyncio
import time
from typing import Any

from campaign_dispatch.providers.mock_receipts import MockReceipts


class Counting(MockReceipts):
    def __init__(self, delay_ms: int) -> None:
        super().__init__(delivery_rate=1.0, delay_ms=delay_ms, seed=1)
        self.looks = 0
        self.applied: list[float] = []

    async def flush(self, database: Any, limit: int = 5000) -> int:
        self.looks += 1
        now = time.monotonic()
        due = 0
        while self._due and self._due[0][0] <= now:
            self._due.popleft()
            due += 1
        self.applied.extend([now] * due)
        return due


async def test_with_no_receipt_waiting_the_loop_sleeps():
    receipts = Counting(delay_ms=100)
    stop = asyncio.Event()
    task = asyncio.create_task(receipts.run(stop, db=None))  # type: ignore[arg-type]
    await asyncio.sleep(1.0)
    assert receipts.looks == 1  # polling every 0.1 s would have looked ~10 times
    stop.set()
    await asyncio.wait_for(task, 2)


async def test_a_reported_receipt_is_applied_after_its_delay():
    receipts = Counting(delay_ms=200)
    stop = asyncio.Event()
    task = asyncio.create_task(receipts.run(stop, db=None))  # type: ignore[arg-type]
    await asyncio.sleep(0.3)
    reported = time.monotonic()
    receipts.report("mock", "m-1")
    for _ in range(100):
        if receipts.applied:
            break
        await asyncio.sleep(0.05)
    assert receipts.applied, "the receipt was never applied"
    assert 0.19 <= receipts.applied[0] - reported < 3
    stop.set()
    await asyncio.wait_for(task, 2)
