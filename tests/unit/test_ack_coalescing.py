"""Coalesced acks never cover a delivery that is still in flight."""

import asyncio
import json

import pamqp.frame
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pamqp.body import ContentBody
from pamqp.commands import Basic
from pamqp.header import ContentHeader

from campaign_dispatch.queue import Job
from campaign_dispatch.queue.acks import AckCoalescer, AckTracker
from campaign_dispatch.queue.rabbitmq_frames import PublishFrames, job_properties


def test_nothing_is_ackable_while_an_earlier_tag_is_in_flight():
    tracker = AckTracker()
    for tag in (2, 3, 5):
        tracker.settle(tag, acked=True)
    assert tracker.ackable() is None  # 1 is still being processed
    tracker.settle(1, acked=True)
    assert tracker.ackable() == 3  # 4 is still being processed
    tracker.sent(3)
    assert tracker.ackable() is None
    tracker.settle(4, acked=True)
    assert tracker.ackable() == 5


def test_a_released_delivery_unblocks_the_watermark_but_is_never_acked():
    tracker = AckTracker()
    tracker.settle(2, acked=False)  # nacked (requeued) on its own
    tracker.settle(3, acked=True)
    tracker.settle(1, acked=True)
    assert tracker.ackable() == 3
    tracker.sent(3)
    tracker.settle(4, acked=False)
    assert tracker.ackable() is None  # nothing acked above 3: no frame for a nacked tag


def test_settling_twice_counts_once():
    tracker = AckTracker()
    tracker.settle(1, acked=True)
    tracker.sent(1)
    tracker.settle(1, acked=False)
    tracker.settle(2, acked=True)
    tracker.settle(2, acked=False)
    assert tracker.ackable() == 2


@given(
    st.integers(1, 60).flatmap(
        lambda n: st.tuples(
            st.permutations(list(range(1, n + 1))), st.lists(st.booleans(), min_size=n, max_size=n)
        )
    ),
    st.lists(st.booleans(), max_size=60),
)
def test_any_completion_order_acks_only_finished_deliveries(case, flush_after):
    order, acked = case
    tracker = AckTracker()
    settled: set[int] = set()
    sent_through = 0
    for i, tag in enumerate(order):
        tracker.settle(tag, acked=acked[tag - 1])
        settled.add(tag)
        if i < len(flush_after) and flush_after[i] and (upto := tracker.ackable()) is not None:
            # A multiple ack up to `upto` must cover only settled deliveries …
            assert all(t in settled for t in range(1, upto + 1))
            # … and name a delivery we ack ourselves (never a requeued one).
            assert acked[upto - 1]
            assert upto > sent_through
            tracker.sent(upto)
            sent_through = upto
    final = tracker.ackable()
    if final is not None:
        tracker.sent(final)
        sent_through = final
    # Once everything is settled, every acked delivery is covered by a sent ack.
    last_acked = max((t for t in order if acked[t - 1]), default=0)
    assert sent_through == last_acked
    assert tracker.unsettled_above_floor == 0


async def test_the_coalescer_sends_one_frame_per_loop_turn_and_never_past_a_gap():
    frames: list[int] = []

    async def send(tag: int, multiple: bool) -> None:
        frames.append(tag)

    acks = AckCoalescer(send)
    for tag in (1, 2, 3, 5, 6):  # 4 still in flight
        acks.ack(tag)
    await acks.drain()
    assert frames == [3]
    acks.ack(4)
    await acks.drain()
    assert frames == [3, 6]
    assert acks.frames_sent == 2


async def test_a_failed_ack_frame_is_logged_not_raised():
    async def send(tag: int, multiple: bool) -> None:
        raise ConnectionError("channel closed")

    acks = AckCoalescer(send)
    acks.ack(1)
    await acks.drain()  # the broker will redeliver; the worker ignores final messages
    assert acks.frames_sent == 0


async def test_acks_recorded_while_a_frame_is_in_flight_go_out_after_it():
    frames: list[int] = []
    gate = asyncio.Event()

    async def send(tag: int, multiple: bool) -> None:
        await gate.wait()
        frames.append(tag)

    acks = AckCoalescer(send)
    acks.ack(1)
    await asyncio.sleep(0.01)  # the flush is now waiting in send(1)
    acks.ack(2)
    acks.ack(3)
    gate.set()
    await acks.drain()
    assert frames == [1, 3]


class FakeBroker:
    """The broker's side of one channel: which deliveries are still unacknowledged."""

    def __init__(self, deliveries: int) -> None:
        self.outstanding = set(range(1, deliveries + 1))
        self.finished: set[int] = set()  # settled by the worker (its batch committed)
        self.frames: list[tuple[int, bool]] = []

    async def ack(self, tag: int, multiple: bool) -> None:
        # RabbitMQ closes the channel on an ack for a tag that is not outstanding.
        assert tag in self.outstanding, f"unknown delivery tag {tag}"
        covered = {t for t in self.outstanding if t <= tag} if multiple else {tag}
        assert covered <= self.finished, f"ack covers unfinished {sorted(covered - self.finished)}"
        self.outstanding -= covered
        self.frames.append((tag, multiple))


async def test_deliveries_stuck_behind_a_slow_one_are_acked_one_by_one_past_the_limit():
    broker = FakeBroker(20)
    acks = AckCoalescer(broker.ack, stuck_limit=4)
    for tag in range(2, 7):  # 1 hangs; 5 settled behind it: one over the limit
        broker.finished.add(tag)
        acks.ack(tag)
        await acks.drain()
    assert broker.outstanding == {1, *range(7, 21)}  # the window is open again
    assert all(not multiple for _, multiple in broker.frames)
    for tag in (7, 8):  # below the limit again: these wait for the watermark
        broker.finished.add(tag)
        acks.ack(tag)
        await acks.drain()
    assert {7, 8} <= broker.outstanding
    broker.finished.add(1)
    acks.ack(1)
    await acks.drain()
    assert broker.frames[-1] == (8, True)  # one multiple ack for 1, 7 and 8
    assert broker.outstanding == set(range(9, 21))


@given(
    st.integers(1, 80).flatmap(
        lambda n: st.tuples(
            st.permutations(list(range(1, n + 1))), st.lists(st.booleans(), min_size=n, max_size=n)
        )
    ),
    st.integers(1, 10),
)
async def test_any_completion_order_with_individual_acks_is_accepted_by_the_broker(case, limit):
    """Multiple and single acks mixed, in any completion order: the broker never sees an
    ack for an unknown tag or one covering an unfinished delivery, and in the end every
    acked delivery is acknowledged."""
    order, acked = case
    broker = FakeBroker(len(order))
    acks = AckCoalescer(broker.ack, stuck_limit=limit)
    for tag in order:
        broker.finished.add(tag)
        if acked[tag - 1]:
            acks.ack(tag)
        else:  # released: the nack settles it at the broker on its own
            broker.outstanding.discard(tag)
            acks.settled_elsewhere(tag)
        if tag % 3 == 0:
            await acks.drain()
    await acks.drain()
    assert broker.outstanding == set()


@pytest.mark.parametrize("job", [Job(1, 0), Job(123_456_789_012, 3)])
def test_jobs_encode_as_before(job):
    assert (
        job.encode()
        == json.dumps({"outbound_message_id": job.message_id, "attempt": job.attempt}).encode()
    )
    assert Job.decode(job.encode()) == job


def test_premarshalled_publish_frames_match_pamqp():
    frames = PublishFrames(7, "campaign_sends")
    for job in (Job(1, 0), Job(42, 1), Job(10**12, 3), Job(2, 0)):
        body = job.encode()
        expected = b"".join(
            pamqp.frame.marshal(frame, 7)
            for frame in (
                Basic.Publish(exchange="", routing_key="campaign_sends"),
                ContentHeader(0, len(body), job_properties()),
                ContentBody(body),
            )
        )
        assert frames.job(body) == expected


def test_jobs_with_out_of_range_numbers_are_malformed_not_retried():
    import pytest

    from campaign_dispatch.queue import Job

    for body in (
        b'{"outbound_message_id": 1, "attempt": 99999999999}',
        b'{"outbound_message_id": 99999999999999999999, "attempt": 0}',
        b'{"outbound_message_id": true, "attempt": 0}',
        b'{"outbound_message_id": 1, "attempt": -1}',
        b'{"outbound_message_id": 1.0, "attempt": 0}',
    ):
        with pytest.raises(ValueError, match="not a job"):
            Job.decode(body)
    assert Job.decode(b'{"outbound_message_id": 7, "attempt": 2}') == Job(7, 2)
