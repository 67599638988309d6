"""`GET /campaigns` over many campaigns: page 1, filtered page 1s, and cursor pages.

The campaigns are inserted in one statement (statuses and channels in turn, so that each
filter matches a fifth or a tenth of them) into a fresh database, then vacuumed and
analysed; only the api runs.
"""

import httpx

from bench.common import (
    Databases,
    api_command,
    client,
    delete_queues,
    new_queue_name,
    processes,
    wait_ready,
)
from bench.reads import read_row, timed_get
from bench.table import Table
from campaign_dispatch.statuses import CampaignStatus, Channel

FILTERS: tuple[tuple[str, dict[str, str]], ...] = (
    ("page 1", {}),
    ("page 1, status=sent", {"status": CampaignStatus.SENT.value}),
    (
        "page 1, channel=sms&status=failed",
        {"channel": Channel.SMS.value, "status": CampaignStatus.FAILED.value},
    ),
)
_STATUSES = [
    s.value
    for s in (
        CampaignStatus.DRAFT,
        CampaignStatus.SCHEDULED,
        CampaignStatus.SENDING,
        CampaignStatus.SENT,
        CampaignStatus.FAILED,
    )
]


async def seed_campaigns(database_url: str, count: int) -> None:
    import asyncpg

    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            """INSERT INTO campaigns (name, channel, status, base_template, created_at, updated_at)
               SELECT 'Bench ' || g, CASE WHEN g % 2 = 0 THEN $2 ELSE $3 END,
                      ($4::text[])[1 + g % 5], 'Hi {first_name}', now(), now()
               FROM generate_series(1, $1) AS g""",
            count,
            Channel.SMS.value,
            Channel.WHATSAPP.value,
            _STATUSES,
        )
        await connection.execute("VACUUM ANALYZE campaigns")
    finally:
        await connection.close()


async def bench_listing(
    databases: Databases, table: Table, campaigns: int, samples: int, cursor_pages: int
) -> None:
    queue = new_queue_name()
    async with databases.fresh(customers=0) as database_url:
        await seed_campaigns(database_url, campaigns)
        with processes([api_command(database_url, queue)]):
            async with client() as http:
                await wait_ready(http)
                await _listing(http, table, campaigns, samples, cursor_pages)
    await delete_queues(queue)


async def _listing(
    http: httpx.AsyncClient, table: Table, campaigns: int, samples: int, cursor_pages: int
) -> None:
    for name, params in FILTERS:
        timings = [(await timed_get(http, "/campaigns", params))[0] for _ in range(samples)]
        table.add(read_row(f"GET /campaigns at {campaigns} campaigns: {name}", timings))
    cursor = (await http.get("/campaigns")).json()["pagination"]["next_cursor"]
    timings = []
    for _ in range(cursor_pages):
        elapsed, response = await timed_get(http, "/campaigns", {"cursor": cursor})
        timings.append(elapsed)
        cursor = response.json()["pagination"]["next_cursor"]
    table.add(
        read_row(
            f"GET /campaigns at {campaigns} campaigns: cursor pages 2-{cursor_pages + 1}", timings
        )
    )
