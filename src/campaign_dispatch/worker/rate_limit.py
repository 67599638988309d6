"""The shared provider rate limit, a batch at a time: the attempts of one moment ask
together, one reservation in the database answers them all, and each then waits for its
own slot. Nothing touches the database per message."""

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from campaign_dispatch import metrics
from campaign_dispatch.db import Database
from campaign_dispatch.repositories import rates
from campaign_dispatch.statuses import Channel

# How late past its slot a request may still go (at 200/s, ten slots' worth).
LATE_SECONDS = 0.05


@dataclass
class _Ask:
    cost: int
    answer: asyncio.Future[tuple[bool, float]]


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

        A request woken more than LATE_SECONDS past its slot (the process was busy: a
        batch being recorded, the event loop behind) does not go at once: the requests
        of the slots it slept through would all go with it, a burst at the provider.
        It takes a new slot instead, once; its old one stays unused."""
        if not self.limits(channel):
            return True, 0.0
        loop = asyncio.get_running_loop()
        waited = 0.0
        for attempt in range(2):
            granted, seconds = await self._ask(channel, cost)
            if not granted:
                return False, seconds
            if seconds <= 0:
                return True, waited
            due = loop.time() + seconds
            metrics.RATE_LIMIT_WAIT_SECONDS.labels(channel).inc(seconds)
            await self.sleep(seconds)
            late = loop.time() - due
            waited += seconds + late
            if late <= LATE_SECONDS or attempt == 1:
                break
            metrics.RATE_LIMIT_LATE.labels(channel).inc()
        return True, waited

    async def _ask(self, channel: Channel, cost: int) -> tuple[bool, float]:
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
                ask.answer.set_result((False, reservation.next_free - reservation.now))
            else:
                ask.answer.set_result((True, max(0.0, slot - reservation.now)))

    async def throttled(self, channel: Channel, retry_after: float | None) -> None:
        if not self.limits(channel):
            return
        async with self.database.sessions.begin() as session:
            await rates.slow_down(session, channel, retry_after)
