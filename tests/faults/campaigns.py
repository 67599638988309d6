"""Campaigns through a real API process, and their progress read from the database."""

import asyncio
import time
from collections.abc import Sequence

import asyncpg
import httpx

TEMPLATE = "Hi {first_name} {last_name|there}, check out {preferred_product} in {location}!"


async def create_campaign(http: httpx.AsyncClient, name: str = "fault") -> int:
    response = await http.post(
        "/campaigns", json={"name": name, "channel": "sms", "base_template": TEMPLATE}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def send(
    http: httpx.AsyncClient, campaign_id: int, customer_ids: Sequence[int], key: str | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return await http.post(
        f"/campaigns/{campaign_id}/send",
        json={"customer_ids": list(customer_ids)},
        headers=headers,
        timeout=120,
    )


async def fetch_count(database_url: str, sql: str, *args: object) -> int:
    """One integer a query answers (a count, a sum)."""
    connection = await asyncpg.connect(database_url)
    try:
        return int(await connection.fetchval(sql, *args) or 0)
    finally:
        await connection.close()


async def statuses(database_url: str, campaign_id: int) -> dict[str, int]:
    """The campaign's messages by status."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT status, count(*) AS n FROM outbound_messages WHERE campaign_id = $1 "
            "GROUP BY status",
            campaign_id,
        )
    finally:
        await connection.close()
    return {r["status"]: r["n"] for r in rows}


async def final_count(database_url: str, campaign_id: int) -> int:
    counts = await statuses(database_url, campaign_id)
    return counts.get("sent", 0) + counts.get("failed", 0)


async def campaign_status(database_url: str, campaign_id: int) -> str | None:
    connection = await asyncpg.connect(database_url)
    try:
        status = await connection.fetchval(
            "SELECT status FROM campaigns WHERE id = $1", campaign_id
        )
    finally:
        await connection.close()
    return None if status is None else str(status)


async def wait_for_final(
    database_url: str, campaign_id: int, at_least: int, timeout: float = 60
) -> int:
    """Wait until at least `at_least` of the campaign's messages are final."""
    deadline = time.monotonic() + timeout
    while True:
        done = await final_count(database_url, campaign_id)
        if done >= at_least:
            return done
        if time.monotonic() > deadline:
            counts = await statuses(database_url, campaign_id)
            raise AssertionError(f"campaign {campaign_id}: {done} final of {at_least}: {counts}")
        await asyncio.sleep(0.1)


async def wait_finished(
    database_url: str, campaign_ids: Sequence[int], timeout: float = 120
) -> float:
    """Wait until every campaign is `sent` or `failed`; the seconds it took."""
    started = time.monotonic()
    waiting = list(campaign_ids)
    while waiting:
        status = await campaign_status(database_url, waiting[0])
        if status in ("sent", "failed"):
            waiting.pop(0)
            continue
        if time.monotonic() - started > timeout:
            counts = await statuses(database_url, waiting[0])
            raise AssertionError(
                f"campaign {waiting[0]} still {status} after {timeout}s: messages {counts}"
            )
        await asyncio.sleep(0.2)
    return time.monotonic() - started
