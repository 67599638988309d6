"""The custom publish path: many `basic.publish` written as one buffer into aiormq's channel.

Why it exists: the relay runs inside the worker process, whose CPU is the pipeline's
bottleneck, and aio-pika's publish costs an aio_pika.Message, a frame marshalling, a
lock round and a write-queue entry per job. Here the method frame is marshalled once per
batch, the header frame once per body length, and 500 jobs go to the connection as one
write-queue entry.

Why it is risky: it does what aiormq's `basic_publish` does by writing aiormq's private
channel state (`delivery_tag`, `confirmations`, `write_queue`, `lock`), which aiormq may
change in any release. `supported()` checks for exactly these, by feature, and the
queue falls back to the aio-pika publisher (queue/publisher.py) when any is missing.
"""

import asyncio
import struct
from collections.abc import Sequence
from typing import Any

import pamqp.frame
from aio_pika.abc import AbstractChannel
from aiormq.abc import ChannelFrame
from pamqp.commands import Basic
from pamqp.header import ContentHeader

from campaign_dispatch.queue.base import Job
from campaign_dispatch.queue.publisher import JOB_CONTENT_TYPE

_BODY_FRAME_HEAD = struct.Struct(">BHI")
_FRAME_END = b"\xce"
_PUBLISH_CHUNK = 500  # jobs per write-queue entry (one buffer)


def job_properties() -> Basic.Properties:
    return Basic.Properties(content_type=JOB_CONTENT_TYPE, delivery_mode=2)  # persistent


def missing_internals(channel: object) -> list[str]:
    """The aiormq channel internals this path writes that `channel` lacks (empty: usable)."""
    checks = {
        "publisher_confirms": getattr(channel, "publisher_confirms", False) is True,
        "confirmations": isinstance(getattr(channel, "confirmations", None), dict),
        "delivery_tag": isinstance(getattr(channel, "delivery_tag", None), int),
        "write_queue": isinstance(getattr(channel, "write_queue", None), asyncio.Queue),
        "lock": hasattr(getattr(channel, "lock", None), "__aenter__"),  # a context manager
        "number": isinstance(getattr(channel, "number", None), int),
        "max_content_size": isinstance(getattr(channel, "max_content_size", None), int),
        "create_future": callable(getattr(channel, "create_future", None)),
    }
    return [name for name, present in checks.items() if not present]


class PublishFrames:
    """The wire bytes of `basic.publish` + header + body for jobs, mostly precomputed.

    The method frame is the same for every job to one queue and the header frame depends
    only on the body's length, so both are marshalled once; a job costs one body frame.
    """

    def __init__(self, channel_number: int, routing_key: str) -> None:
        self.channel_number = channel_number
        self.method = pamqp.frame.marshal(
            Basic.Publish(exchange="", routing_key=routing_key), channel_number
        )
        self._headers: dict[int, bytes] = {}

    def job(self, body: bytes) -> bytes:
        size = len(body)
        header = self._headers.get(size)
        if header is None:
            header = self._headers[size] = pamqp.frame.marshal(
                ContentHeader(0, size, job_properties()), self.channel_number
            )
        head = _BODY_FRAME_HEAD.pack(3, self.channel_number, size)  # 3: body frame
        return b"".join((self.method, header, head, body, _FRAME_END))


class ChunkConfirmation:
    """Stands for every tag of one chunk in aiormq's confirmation table, where its publish
    puts one future per tag: aiormq pops a tag's entry when the broker confirms it and
    calls `done()`, then `set_result(ack)` (or `set_exception` for a nack). This counts
    the acks and resolves one future for the chunk, failed at the first nack: a chunk of
    500 costs one future instead of 500, each with its done callbacks in aiormq's future
    stores and in the gather. The future is the channel's (`create_future`), so a closing
    channel fails it as it would the per-tag ones."""

    __slots__ = ("future", "left")

    def __init__(self, future: "asyncio.Future[None]", count: int) -> None:
        self.future = future
        self.left = count

    def done(self) -> bool:
        return self.future.done()

    def cancelled(self) -> bool:
        return self.future.cancelled()

    def set_result(self, frame: object) -> None:  # aiormq calls it for a Basic.Ack only
        self.left -= 1
        if self.left <= 0 and not self.future.done():
            self.future.set_result(None)

    def set_exception(self, exception: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exception)


async def publish_batch(channel: Any, routing_key: str, jobs: Sequence[Job]) -> None:
    """Many basic.publish in one write; returns once the broker has acked every one.

    This is aiormq's basic_publish (same sequence numbers, same confirmation table, the
    same channel lock so no other publish interleaves) minus one task, one lock round,
    one write-queue entry, the frame marshalling and the confirm future per message.
    Confirm futures belong to the channel, so a closing channel fails them and the caller
    retries later; a nack fails the batch the same way.
    """
    frames = PublishFrames(channel.number, routing_key)
    bodies = [job.encode() for job in jobs]
    if max(map(len, bodies), default=0) >= channel.max_content_size:
        raise ValueError("job body larger than one frame")
    futures: list[asyncio.Future[None]] = []
    for start in range(0, len(bodies), _PUBLISH_CHUNK):
        chunk = bodies[start : start + _PUBLISH_CHUNK]
        async with channel.lock:
            first_tag = channel.delivery_tag + 1
            payload = ChannelFrame(
                payload=b"".join([frames.job(body) for body in chunk]), should_close=False
            )
            future: asyncio.Future[None] = channel.create_future()
            confirmation = ChunkConfirmation(future, len(chunk))
            tags = range(first_tag, first_tag + len(chunk))
            channel.confirmations.update(dict.fromkeys(tags, confirmation))
            channel.delivery_tag = first_tag + len(chunk) - 1
            try:
                await channel.write_queue.put(payload)
            except BaseException:
                # Not handed to the connection: the broker never saw these tags.
                for tag in tags:
                    channel.confirmations.pop(tag, None)
                future.cancel()
                channel.delivery_tag = first_tag - 1
                raise
        futures.append(future)
    await asyncio.gather(*futures)


class FramesPublisher:
    """The BatchPublisher over `publish_batch`, on the raw channel under an aio-pika one
    (asked for on every batch: a robust channel gets a new one after a reconnect)."""

    name = "frames"

    def __init__(self, channel: AbstractChannel) -> None:
        self.channel = channel

    async def publish(self, routing_key: str, jobs: Sequence[Job]) -> None:
        raw = await self.channel.get_underlay_channel()
        await publish_batch(raw, routing_key, jobs)
