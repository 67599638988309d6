import asyncio
import contextlib

Wake = asyncio.Event
"""Set by whoever knows of new work; a loop clears it before it looks, so a wake that
comes while it looks is kept for its next wait."""


async def wait_until(delay: float, stop: asyncio.Event, *wakes: asyncio.Event) -> None:
    """Sleep `delay` seconds, or less if `stop` or one of `wakes` is set."""
    if delay <= 0 or stop.is_set() or any(w.is_set() for w in wakes):
        await asyncio.sleep(0)
        return
    waiters = [asyncio.ensure_future(e.wait()) for e in (stop, *wakes)]
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
