"""The floor: what RabbitMQ and aio-pika alone manage on this machine, right now.

One process, nothing else of ours running: publish `--messages` jobs with aio-pika's
supported API (persistent, publisher confirms, batches of 1 000 gathered), while one
consumer on the same connection acks each delivery. Every dispatch figure is printed
beside a floor measured in the same bench run, so a figure can be read relative to what
the machine gave at that moment (2 cores shared with PostgreSQL, the broker and any
test suite running beside us).

`python -m bench.floor --messages N` prints the rate (jobs per second) on stdout.
"""

import argparse
import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable

import aio_pika

from bench.common import AMQP

BATCH = 1_000
PREFETCH = 256


async def floor(messages: int) -> float:
    connection = await aio_pika.connect(AMQP)
    async with connection:
        publishing = await connection.channel(publisher_confirms=True)
        consuming = await connection.channel()
        await consuming.set_qos(prefetch_count=PREFETCH)
        name = f"bench_floor_{uuid.uuid4().hex[:8]}"
        queue = await consuming.declare_queue(name, durable=True)
        done = asyncio.Event()
        acked = 0

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal acked
            await message.ack()
            acked += 1
            if acked == messages:
                done.set()

        started = time.perf_counter()
        consumer_tag = await queue.consume(on_message)
        exchange = publishing.default_exchange
        for first in range(1, messages + 1, BATCH):
            ids = range(first, min(first + BATCH, messages + 1))
            await asyncio.gather(
                *(
                    exchange.publish(
                        aio_pika.Message(
                            b'{"outbound_message_id": %d, "attempt": 0}' % i,
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                            content_type="application/json",
                        ),
                        routing_key=name,
                    )
                    for i in ids
                )
            )
        await asyncio.wait_for(done.wait(), 300)
        elapsed = time.perf_counter() - started
        await queue.cancel(consumer_tag)
        await queue.delete(if_unused=False, if_empty=False)
    return messages / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=30_000)
    args = parser.parse_args()
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    with contextlib.suppress(ImportError):
        import uvloop  # as the worker runs: the floor and the figure share an event loop kind

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        print(f"{runner.run(floor(args.messages)):.1f}", flush=True)


if __name__ == "__main__":
    main()
