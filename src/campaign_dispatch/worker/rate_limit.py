"""The shared provider rate limit, a batch at a time: the attempts of one moment ask
together, one reservation in the database answers them all, and each then waits for its
own slot. Nothing touches the database per message."""

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from campaign_dispatch import metrics
from campaign_dispatch.db import Database
from campaign_dispatch.repositories import rates
from campaign_dispatch.statuses import Channel

# How late past its slot a request may still go (at 200/s, four slots' worth).
LATE_SECONDS = 0.02


@dataclass
class _Ask:
    cost: int
    answer: asyncio.Future[tuple[bool, float, float]]


@dataclass
class SharedRateLimit:
    database: Database
    per_second: Mapping[Channel, float]  # 0: no limit
    budget: float  # the longest wait a claim can afford (inside its lease)
    # How a request waits for its slot (a test stands in a late-waking one).
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _asks: dict[Channel, list[_Ask]] = field(default_factory=lambda: defaultdict(list))

    def limits(self, channel: Channel) -> bool:
        return self.per_second.get(channel, 0) > 0

    async def wait(self, channel: Channel, cost: int) -> tuple[bool, float]:
        """(True, seconds waited) once this request's slot has come; (False, seconds) at
        once when no slot is free within the budget: try again in that many seconds.

        A slot is placed on this process's monotonic clock from the moment the database's
        clock was read, not from when the reservation came back: the commit and a busy
        event loop would otherwise shift each batch's slots by a different delay, and the
        shifted batches overlap at the provider. A timer that fires early (the event
        loop's clock is read once per iteration) sleeps the rest.

        A request woken more than LATE_SECONDS past its slot (the process was busy: a
        batch being recorded, the event loop behind) does not go at once: the requests
        of the slots it slept through would all go with it, a burst at the provider.
        It takes a new slot instead, once; its old one stays unused."""
        if not self.limits(channel):
            return True, 0.0
        started = time.monotonic()
        for attempt in range(2):
            granted, seconds, due = await self._ask(channel, cost)
            if not granted:
                return False, seconds
            if seconds <= 0:
                return True, time.monotonic() - started
            metrics.RATE_LIMIT_WAIT_SECONDS.labels(channel).inc(seconds)
            while (remaining := due - time.monotonic()) > 0:
                await self.sleep(remaining)
            if time.monotonic() - due <= LATE_SECONDS or attempt == 1:
                break
            metrics.RATE_LIMIT_LATE.labels(channel).inc()
        return True, time.monotonic() - started

    async def _ask(self, channel: Channel, cost: int) -> tuple[bool, float, float]:
        """(granted, seconds from the reservation's reading to the slot, or until one
        is free; the slot on time.monotonic())."""
        ask = _Ask(cost, asyncio.get_running_loop().create_future())
        pending = self._asks[channel]
        pending.append(ask)
        if len(pending) == 1:  # the first ask of this moment reserves for everyone's
            asyncio.get_running_loop().call_soon(
                lambda: asyncio.ensure_future(self._reserve(channel))
            )
        return await ask.answer

    async def _reserve(self, channel: Channel) -> None:
        await asyncio.sleep(0)  # let the rest of the batch's attempts ask too
        asks, self._asks[channel] = self._asks[channel], []
        try:
            async with self.database.sessions.begin() as session:
                reservation = await rates.reserve(
                    session,
                    channel,
                    [a.cost for a in asks],
                    self.per_second[channel],
                    self.budget,
                )
        except BaseException as exc:  # each attempt fails with it (a retryable error)
            for ask in asks:
                if not ask.answer.done():
                    ask.answer.set_exception(exc)
            return
        for ask, slot in zip(asks, reservation.slots, strict=True):
            if ask.answer.done():  # its attempt was cancelled meanwhile
                continue
            if slot is None:
                metrics.RATE_LIMIT_DEFERRED.labels(channel).inc()
                wait = reservation.next_free - reservation.now
                ask.answer.set_result((False, wait, reservation.read_at + wait))
            else:
                wait = max(0.0, slot - reservation.now)
                ask.answer.set_result((True, wait, reservation.read_at + wait))

    async def throttled(self, channel: Channel, retry_after: float | None) -> None:
        if not self.limits(channel):
            return
        async with self.database.sessions.begin() as session:
            await rates.slow_down(session, channel, retry_after)
