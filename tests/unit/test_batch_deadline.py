"""The batch deadline: one timer that cancels the attempts still running when it fires,
each of which can tell that cancellation from a shutdown's."""

import asyncio

import pytest

from campaign_dispatch.worker.processor import _Deadline


async def _attempt(deadline: _Deadline, seconds: float, after: list[str]) -> str:
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        if not deadline.passed():
            raise
        return "timed out"
    deadline.release()
    await asyncio.sleep(0.05)  # past the deadline, but no longer bounded by it
    after.append("finished")
    return "answered"


async def test_the_attempts_still_running_when_it_fires_time_out_the_others_do_not():
    deadline = _Deadline(0.05)
    after: list[str] = []
    tasks = [deadline.watch(_attempt(deadline, s, after)) for s in (0, 3600, 0.01)]
    assert await asyncio.gather(*tasks) == ["answered", "timed out", "answered"]
    assert after == ["finished", "finished"]
    deadline.cancel()


async def test_a_shutdown_cancel_is_not_taken_for_the_deadline():
    deadline = _Deadline(0.05)
    task = deadline.watch(_attempt(deadline, 3600, []))
    await asyncio.sleep(0)
    task.cancel()  # the shutdown, before the deadline
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline.cancel()


async def test_a_shutdown_cancel_beside_the_deadline_still_cancels():
    deadline = _Deadline(0.01)
    task = deadline.watch(_attempt(deadline, 3600, []))
    await asyncio.sleep(0)

    def both() -> None:
        task.cancel()  # a shutdown, in the same loop turn as the deadline
        deadline._fire()

    asyncio.get_running_loop().call_soon(both)
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline.cancel()


async def test_a_cancelled_deadline_never_fires():
    deadline = _Deadline(0.01)
    deadline.cancel()
    task = deadline.watch(_attempt(deadline, 0.05, []))
    assert await task == "answered"
