"""How a worker lane forms its batches: what has arrived, topped up while deliveries keep
arriving (a socket read brings a few hundred of a campaign's thousands), and a lone job
not held back for company."""

import asyncio
import time
from typing import Any, cast

from campaign_dispatch.queue import Delivery, JobQueue
from campaign_dispatch.worker.consumer import FILL_SECONDS, Worker
from campaign_dispatch.worker.processor import BatchProcessor


class _Delivery:
    body = b"{}"

    async def ack(self) -> None:
        return None

    async def release(self) -> None:
        return None


class _Queue:
    def __init__(self) -> None:
        self.deliver: Any = None
        self.consuming = asyncio.Event()

    async def start_consuming(self, on_delivery: Any, prefetch: int) -> None:
        self.deliver = on_delivery
        self.consuming.set()

    async def stop_consuming(self) -> None:
        return None


class _Processor:
    def __init__(self, expected: int) -> None:
        self.batches: list[tuple[int, float]] = []  # size, when processed
        self.expected = expected
        self.all_processed = asyncio.Event()

    async def process(self, batch: list[Delivery]) -> None:
        self.batches.append((len(batch), time.monotonic()))
        if sum(size for size, _ in self.batches) >= self.expected:
            self.all_processed.set()

    async def complete_finished(self, now: bool = False) -> None:
        return None


async def _run(arrivals: list[tuple[float, int]], batch_size: int = 1000) -> _Processor:
    """Deliveries arriving in bursts (seconds after the start, how many); one lane."""
    total = sum(count for _, count in arrivals)
    queue, processor, stop = _Queue(), _Processor(total), asyncio.Event()
    worker = Worker(cast(JobQueue, queue), cast(BatchProcessor, processor), batch_size, batch_size)
    running = asyncio.create_task(worker.run(stop))
    await queue.consuming.wait()
    loop = asyncio.get_running_loop()
    for after, count in arrivals:
        loop.call_later(after, lambda n=count: [queue.deliver(_Delivery()) for _ in range(n)])
    await asyncio.wait_for(processor.all_processed.wait(), 5)
    stop.set()
    await running
    return processor


async def test_bursts_arriving_together_make_one_batch() -> None:
    processor = await _run([(0.0, 300), (0.0015, 300), (0.003, 300)])
    assert [size for size, _ in processor.batches] == [900]


async def test_a_batch_stops_growing_at_its_size() -> None:
    processor = await _run([(0.0, 600), (0.001, 600)], batch_size=1000)
    assert [size for size, _ in processor.batches] == [1000, 200]


async def test_a_lone_job_waits_one_short_step_at_most() -> None:
    started = time.monotonic()
    processor = await _run([(0.0, 1)])
    ((size, at),) = processor.batches
    assert size == 1
    assert at - started < FILL_SECONDS + 0.05
