"""Background tasks run supervised: a death is seen and logged, a stop has a deadline."""

import asyncio

from structlog.testing import capture_logs

from campaign_dispatch.background import Supervisor


async def test_a_task_that_crashes_marks_the_supervisor_failed_with_its_exception():
    supervisor = Supervisor()
    called = []
    supervisor.on_failure(lambda: called.append(True))

    async def crash(stop: asyncio.Event) -> None:
        raise RuntimeError("relay bug")

    async def healthy(stop: asyncio.Event) -> None:
        await stop.wait()

    with capture_logs() as logs:
        supervisor.spawn("relay", crash)
        supervisor.spawn("worker", healthy)
        await asyncio.wait_for(supervisor.wait(), 2)

    assert supervisor.failed.is_set()
    assert called == [True]
    assert supervisor.failures == ["relay crashed"]
    [death] = [e for e in logs if e["event"].startswith("background task died")]
    assert death["task"] == "relay"
    assert isinstance(death["exc_info"], RuntimeError)
    await supervisor.stop(1)


async def test_a_task_that_returns_while_it_should_run_is_a_failure_too():
    supervisor = Supervisor()

    async def quits(stop: asyncio.Event) -> None:
        return None

    supervisor.spawn("scheduler", quits)
    await asyncio.wait_for(supervisor.wait(), 2)
    assert supervisor.failures == ["scheduler returned before it was asked to stop"]


async def test_a_crash_inside_a_task_group_is_not_swallowed():
    """A service that fans out (the relay's loops, the worker's lanes) must let one
    failure through, unlike gather(return_exceptions=True)."""
    supervisor = Supervisor()

    async def fan_out(stop: asyncio.Event) -> None:
        async def lane(n: int) -> None:
            if n == 1:
                raise ValueError("lane 1 died")
            await stop.wait()

        async with asyncio.TaskGroup() as group:
            for n in range(3):
                group.create_task(lane(n))

    supervisor.spawn("worker", fan_out)
    await asyncio.wait_for(supervisor.wait(), 2)
    assert supervisor.failures == ["worker crashed"]


async def test_stop_waits_for_a_clean_finish_within_the_grace_period():
    supervisor = Supervisor()
    finished = []

    async def drains(stop: asyncio.Event) -> None:
        await stop.wait()
        await asyncio.sleep(0.05)  # finishing the batch in hand
        finished.append(True)

    supervisor.spawn("worker", drains)
    await supervisor.stop(grace_seconds=5)
    assert finished == [True]
    assert not supervisor.failed.is_set()


async def test_stop_cancels_what_is_still_running_after_the_grace_period():
    supervisor = Supervisor()
    cancelled = []

    async def hangs(stop: asyncio.Event) -> None:
        try:
            await asyncio.sleep(3600)  # a provider call that never returns
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    supervisor.spawn("worker", hangs)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await supervisor.stop(grace_seconds=0.2)
    assert cancelled == [True]
    assert 0.2 <= loop.time() - started < 2
    assert not supervisor.failed.is_set()  # cancelled on our own orders, not a death
