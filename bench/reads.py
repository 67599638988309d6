"""Timed reads of the API and the row every read target shares (p50 under 20 ms)."""

import statistics
import time

import httpx

from bench.table import Row

READ_TARGET_MS = 20.0


async def timed_get(
    http: httpx.AsyncClient, path: str, params: dict[str, str] | None = None
) -> tuple[float, httpx.Response]:
    """(milliseconds, response) of one GET, which must succeed."""
    started = time.perf_counter()
    response = await http.get(path, params=params)
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed, response


def read_row(what: str, samples: list[float]) -> Row:
    p50 = statistics.median(samples)
    return Row(
        f"{what} (p50 of {len(samples)})",
        f"{p50:.1f} ms",
        f"p50 < {READ_TARGET_MS:.0f} ms",
        p50 < READ_TARGET_MS,
    )
