import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)


async def run_every(
    interval: float, stop: asyncio.Event, task: Callable[[], Awaitable[object]], name: str
) -> None:
    """Run `task` every `interval` seconds until `stop`; a failed pass is logged, not fatal."""
    while not stop.is_set():
        try:
            await task()
        except Exception:
            log.exception(f"{name} failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
