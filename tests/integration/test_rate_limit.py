"""The shared provider rate limit: slots spaced by the rate (an SMS takes one per
segment), slowed by throttled answers, measured at the provider's side."""

import asyncio
import itertools
import time

import pytest

from campaign_dispatch.background import Role
from campaign_dispatch.providers import SendRequest, SendResult
from campaign_dispatch.repositories import rates
from tests.pipeline_helpers import eventually, send_to_new_customers

PIPELINE = {Role.RELAY, Role.WORKER}


class Clocked:
    name = "clocked"

    def __init__(self) -> None:
        self.at: list[float] = []

    async def send(self, request: SendRequest) -> SendResult:
        self.at.append(time.monotonic())
        return SendResult.accepted(f"c-{request.message_id}")

    async def aclose(self) -> None:
        return None


def busiest_second(times: list[float]) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_sends_keep_to_the_rate_across_the_batch(
    client, runtime, make_customer, make_campaign
):
    runtime.settings = runtime.settings.model_copy(update={"sms_rate_per_second": 20})
    sender = Clocked()
    runtime.sender = sender
    await runtime.start(PIPELINE)
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 50)

    async def sent():
        body = (await client.get(f"/campaigns/{campaign_id}")).json()
        return body["status"] == "sent"

    await eventually(sent, timeout=30)
    assert len(sender.at) == 50
    # 50 slots 1/20 s apart: 2.45 s from the first to the last, at most 21 in a second.
    assert max(sender.at) - min(sender.at) >= 2.2
    assert busiest_second(sender.at) <= 22


async def test_a_throttled_answer_halves_the_rate_and_holds_sends_for_retry_after(runtime):
    async with runtime.sessions.begin() as session:
        first = await rates.reserve(session, "sms", [1, 1, 2, 1], rate=10, budget=60)
    slots = [s for s in first.slots if s is not None]
    assert [round(b - a, 3) for a, b in itertools.pairwise(slots)] == [0.1, 0.1, 0.2]

    async with runtime.sessions.begin() as session:
        await rates.slow_down(session, "sms", retry_after=2.0)
        after = await rates.reserve(session, "sms", [1, 1], rate=10, budget=60)
    a, b = after.slots
    assert a is not None and b is not None
    assert a >= after.now + 1.9  # nothing before Retry-After
    assert b - a == pytest.approx(0.2, abs=0.01)  # half the rate


async def test_no_slot_within_the_budget_defers(runtime):
    async with runtime.sessions.begin() as session:
        reservation = await rates.reserve(session, "whatsapp", [1] * 5, rate=1, budget=2.5)
    granted = [s for s in reservation.slots if s is not None]
    assert len(granted) == 3 and reservation.slots[3:] == [None, None]
    assert reservation.next_free == pytest.approx(granted[-1] + 1.0, abs=0.01)


async def test_a_send_woken_late_past_its_slot_takes_a_new_one(runtime, monkeypatch):
    """The event loop was busy when a slot came: sent at once, it would go together with
    the sends of the slots after it. It asks again and goes at its new slot."""
    from campaign_dispatch.worker import rate_limit

    real_sleep, real_reserve = asyncio.sleep, rates.reserve
    slept: list[float] = []
    reserved: list[int] = []

    async def busy_loop_sleep(seconds: float) -> None:
        if late:  # the first slot's wait after the switch wakes 0.3 s late
            slept.append(seconds)
            seconds += 0.3 if len(slept) == 1 else 0.0
        await real_sleep(seconds)

    late = False
    limit = rate_limit.SharedRateLimit(
        runtime.resources.database, {"sms": 10}, budget=10, sleep=busy_loop_sleep
    )

    async def counted_reserve(session, channel, costs, rate, budget):
        reserved.append(len(costs))
        return await real_reserve(session, channel, costs, rate, budget)

    granted, _ = await limit.wait("sms", 1)  # takes a slot: the next is 0.1 s after it
    assert granted
    late = True
    monkeypatch.setattr(rate_limit.rates, "reserve", counted_reserve)
    granted, waited = await limit.wait("sms", 1)  # its slot ahead, woken 0.3 s late
    assert granted
    assert len(slept) >= 1 and waited >= 0.3
    assert reserved == [1, 1], reserved  # the late one asked for a new slot


async def test_a_slot_counts_from_the_clock_reading_not_from_the_slow_return(runtime, monkeypatch):
    """The reservation's commit and a busy event loop delay its answer by a different
    amount each batch; counted from the answer, the batches' slots would shift and
    overlap at the provider. The send goes when its slot comes by the clock that was
    read."""
    from campaign_dispatch.worker import rate_limit

    real_reserve = rates.reserve
    reservations: list[rates.Reservation] = []

    async def slow_reserve(session, channel, costs, rate, budget):
        reservation = await real_reserve(session, channel, costs, rate, budget)
        reservations.append(reservation)
        await asyncio.sleep(0.06)  # the commit and the loop, slow this time
        return reservation

    monkeypatch.setattr(rate_limit.rates, "reserve", slow_reserve)
    limit = rate_limit.SharedRateLimit(runtime.resources.database, {"sms": 5}, budget=10)
    assert (await limit.wait("sms", 1))[0]  # the first slot: now
    granted, _ = await limit.wait("sms", 1)  # the next, 0.2 s after it
    went = time.monotonic()
    assert granted
    second = reservations[-1]
    slot = second.slots[0]
    assert slot is not None
    due = second.read_at + (slot - second.now)
    assert 0 <= went - due < 0.03, went - due
