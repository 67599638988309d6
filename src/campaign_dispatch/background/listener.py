"""One LISTEN connection per process (PostgreSQL): each channel's NOTIFY calls its
callbacks, so the loops waiting on them (the relay on the outbox, the scheduler on
schedule changes, recovery on sends) wake at once instead of polling.

The connection sleeps while nothing arrives: it wakes for a NOTIFY, for its own loss
(asyncpg's termination callback) or, every `ping_seconds`, to check that the server still
answers (a connection dropped without a FIN is noticed no later). After a reconnect every
callback is called once: anything committed while nobody listened is looked at. The
loops' own long timers cover whatever a lost NOTIFY would have said.
"""

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import asyncpg
import structlog

log = structlog.get_logger(__name__)


class Listener:
    def __init__(
        self,
        dsn: str,
        channels: Mapping[str, Sequence[Callable[[], None]]],
        ping_seconds: float = 30.0,
    ) -> None:
        self.dsn = dsn
        self.channels = {name: list(callbacks) for name, callbacks in channels.items()}
        self.ping_seconds = ping_seconds

    def _call_all(self) -> None:
        for callbacks in self.channels.values():
            for callback in callbacks:
                callback()

    async def run(self, stop: asyncio.Event) -> None:
        """LISTEN until `stop`; reconnects after a failure."""
        while not stop.is_set():
            try:
                await self._session(stop)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning("LISTEN connection failed; long timers meanwhile", error=str(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 2)

    async def _session(self, stop: asyncio.Event) -> None:
        connection = await asyncpg.connect(self.dsn, timeout=10)
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda *_: lost.set())
            for name, callbacks in self.channels.items():

                def on_notify(*_: Any, callbacks: list[Callable[[], None]] = callbacks) -> None:
                    for callback in callbacks:
                        callback()

                await connection.add_listener(name, on_notify)
            self._call_all()  # anything committed while we were not listening
            while not stop.is_set() and not lost.is_set() and not connection.is_closed():
                waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(lost.wait())]
                try:
                    done, _ = await asyncio.wait(
                        waiters, timeout=self.ping_seconds, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    for waiter in waiters:
                        waiter.cancel()
                if not done:
                    await connection.fetchval("SELECT 1", timeout=10)
        finally:
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)
