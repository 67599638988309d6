"""Segment send to every customer, against a bare INSERT … SELECT of the same rows; then
the reads of the campaign it made: its detail, and its messages by cursor.

The floor inserts the same rows into an identical table (bench/common.py's FLOOR_TABLE:
LIKE … INCLUDING ALL, the same columns, defaults, CHECK constraints and indexes, plus
the same two foreign keys), in the same database, in turns with the sends. Each turn
starts from an empty table, so neither side inserts into a bigger index than the other.
What the send adds over the floor is the API (validation, the campaign's lock, its
status change), the opted-out filter, the counters' trigger and the commit.

The messages listing reads page 1, then cursor pages at several depths of the
campaign's messages: a cursor carries the snapshot and the last id served, so a page
deep in the list is built from page 1's cursor with a deeper id (what following the
cursors page by page would reach, without walking 50 000 pages to get there).
"""

import dataclasses
import statistics
import time

import asyncpg
import httpx

from bench.common import (
    FLOOR_COLUMNS,
    FLOOR_TABLE,
    PENDING,
    Databases,
    api_command,
    client,
    delete_queues,
    new_campaign,
    new_queue_name,
    processes,
    wait_ready,
)
from bench.reads import read_row, timed_get
from bench.table import Row, Table, info, ratio
from campaign_dispatch.repositories.pagination import Cursor

SEGMENT_TARGET = 1.3  # times the floor
DEPTHS = (0.1, 0.5, 0.9, 0.999)  # where the deep cursor pages start, as a share of the list

_FLOOR_INSERT = f"""
    INSERT INTO floor_messages ({FLOOR_COLUMNS})
    SELECT $1, id, $2, 0, now(), now(), now() FROM customers
"""  # noqa: S608 (a constant column list, no input)


async def _floor_seconds(connection: asyncpg.Connection, campaign_id: int) -> float:
    await connection.execute("TRUNCATE floor_messages")
    started = time.perf_counter()
    await connection.execute(_FLOOR_INSERT, campaign_id, PENDING)
    return time.perf_counter() - started


async def _send_seconds(
    http: httpx.AsyncClient, connection: asyncpg.Connection
) -> tuple[int, float, int]:
    await connection.execute("TRUNCATE outbound_messages CASCADE")
    campaign_id = await new_campaign(http)
    started = time.perf_counter()
    response = await http.post(f"/campaigns/{campaign_id}/send", json={"segment": {}})
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return campaign_id, elapsed, int(response.json()["messages_queued"])


async def bench_segments(
    databases: Databases, table: Table, customers: int, rounds: int, samples: int
) -> None:
    queue = new_queue_name()
    async with databases.fresh(customers=customers) as database_url:
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute(FLOOR_TABLE)
            # No worker runs: the messages stay pending, and the outbox relay is not in
            # the API process when a broker is configured.
            with processes([api_command(database_url, queue)]):
                async with client() as http:
                    http.timeout = httpx.Timeout(300)
                    await wait_ready(http)
                    sends: list[float] = []
                    floors: list[float] = []
                    campaign_id = 0
                    for round_number in range(rounds):
                        campaign_id, seconds, queued = await _send_seconds(http, connection)
                        if queued != customers:
                            raise RuntimeError(f"segment send queued {queued} of {customers}")
                        sends.append(seconds)
                        floors.append(await _floor_seconds(connection, campaign_id))
                        print(
                            f"      round {round_number + 1}/{rounds}: "
                            f"send {sends[-1] * 1000:.0f} ms; floor {floors[-1] * 1000:.0f} ms",
                            flush=True,
                        )
                    await connection.execute("TRUNCATE floor_messages")
                    await connection.execute("VACUUM ANALYZE outbound_messages")
                    send, floor = statistics.median(sends), statistics.median(floors)
                    table.add(
                        Row(
                            f"segment send to {customers} customers (median of {rounds})",
                            f"{send * 1000:.0f} ms",
                            f"≤ {SEGMENT_TARGET} x floor",
                            send / floor <= SEGMENT_TARGET,
                            floor=f"{floor * 1000:.0f} ms (bare INSERT … SELECT)",
                            ratio=ratio(send / floor),
                        )
                    )
                    await _detail(http, table, campaign_id, customers, samples)
                    await _messages(http, connection, table, campaign_id, customers, samples)
        finally:
            await connection.close()
    await delete_queues(queue)


async def _detail(
    http: httpx.AsyncClient, table: Table, campaign_id: int, messages: int, samples: int
) -> None:
    timings = []
    for _ in range(samples):
        elapsed, response = await timed_get(http, f"/campaigns/{campaign_id}")
        timings.append(elapsed)
    total = response.json()["stats"]["total"]
    if total != messages:
        raise RuntimeError(f"detail says {total} messages, not {messages}")
    table.add(read_row(f"GET /campaigns/{{id}}, a campaign of {messages} messages", timings))


async def _messages(
    http: httpx.AsyncClient,
    connection: asyncpg.Connection,
    table: Table,
    campaign_id: int,
    messages: int,
    samples: int,
) -> None:
    path = f"/campaigns/{campaign_id}/messages"
    first: list[float] = []
    for _ in range(samples):
        elapsed, response = await timed_get(http, path)
        first.append(elapsed)
    body = response.json()
    if body["pagination"]["total_count"] != messages:
        raise RuntimeError(f"the messages listing counts {body['pagination']['total_count']}")
    cursor = Cursor.decode(body["pagination"]["next_cursor"])
    low, high = await connection.fetchrow(
        "SELECT min(id), max(id) FROM outbound_messages WHERE campaign_id = $1", campaign_id
    )
    page_size = len(body["data"])
    deep: list[float] = []
    per_depth = max(1, samples // len(DEPTHS))
    for depth in DEPTHS:
        after = high - int((high - low) * depth)
        token = dataclasses.replace(
            cursor, after_id=after, page=2 + int(messages * depth) // page_size
        ).encode()
        for _ in range(per_depth):  # follow the cursors from there
            elapsed, response = await timed_get(http, path, {"cursor": token})
            deep.append(elapsed)
            page = response.json()
            if not page["data"] or page["data"][0]["id"] >= after:
                raise RuntimeError(f"cursor page after id {after} answered {page['items'][:1]}")
            token = page["pagination"]["next_cursor"] or token
    info(
        "GET …/messages cursor pages by depth: "
        + ", ".join(
            f"{depth:.1%} {statistics.median(deep[i * per_depth : (i + 1) * per_depth]):.1f} ms"
            for i, depth in enumerate(DEPTHS)
        )
    )
    table.add(read_row(f"GET /campaigns/{{id}}/messages, {messages} messages: page 1", first))
    table.add(
        read_row(
            f"GET /campaigns/{{id}}/messages, {messages} messages: cursor pages "
            f"{', '.join(f'{d:.1%}' for d in DEPTHS)} deep",
            deep,
        )
    )
