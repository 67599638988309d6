"""Runs a process's background tasks and watches them.

A task that dies (raises, or returns before it was asked to stop) is logged with its
exception and marks the supervisor failed; the process then exits non-zero, so compose or
systemd restarts it, instead of running on with its relay or worker silently gone.
Stopping asks every task to finish (the shared `stop` event), waits up to a grace period,
then cancels what is left: a worker cancelled mid-batch hands its deliveries back.
"""

import asyncio
import contextlib
from collections.abc import Callable, Coroutine

import structlog

log = structlog.get_logger(__name__)


class Supervisor:
    def __init__(self) -> None:
        self.stop_requested = asyncio.Event()
        self.failed = asyncio.Event()
        self.failures: list[str] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._on_failure: list[Callable[[], None]] = []

    def on_failure(self, callback: Callable[[], None]) -> None:
        self._on_failure.append(callback)

    def spawn(
        self, name: str, run: Callable[[asyncio.Event], Coroutine[object, object, None]]
    ) -> None:
        """Start `run(stop)` as a supervised task; it must return soon after `stop` is set."""
        task = asyncio.create_task(run(self.stop_requested), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._watch)

    def _watch(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            if not self.stop_requested.is_set():
                self._fail(task.get_name(), "was cancelled", None)
            return
        exc = task.exception()
        if exc is not None:
            self._fail(task.get_name(), "crashed", exc)
        elif not self.stop_requested.is_set():
            self._fail(task.get_name(), "returned before it was asked to stop", None)

    def _fail(self, name: str, how: str, exc: BaseException | None) -> None:
        log.error("background task died; the process will exit", task=name, how=how, exc_info=exc)
        self.failures.append(f"{name} {how}")
        self.failed.set()
        for callback in self._on_failure:
            callback()

    async def wait(self) -> None:
        """Return when a stop is requested or a task has died."""
        waiters = [
            asyncio.ensure_future(self.stop_requested.wait()),
            asyncio.ensure_future(self.failed.wait()),
        ]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def stop(self, grace_seconds: float) -> None:
        """Ask every task to finish; after `grace_seconds`, cancel the ones still running."""
        self.stop_requested.set()
        tasks = set(self._tasks)
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=grace_seconds)
        if late:
            log.warning(
                "shutdown grace period over; cancelling",
                tasks=sorted(t.get_name() for t in late),
                grace_s=grace_seconds,
            )
            for task in late:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait(late)
