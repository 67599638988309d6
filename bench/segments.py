"""Segment send to every customer, against a bare INSERT … SELECT of the same rows, and the
campaign detail of the campaign it made.

The floor inserts the same 1 000 000 rows into an identical table (LIKE … INCLUDING ALL:
the same columns, defaults, CHECK constraints and indexes, plus the same two foreign
keys), in the same database, in turns with the sends. Each turn starts from an empty
table, so neither side inserts into a bigger index than the other. What the send adds
over the floor is the API (validation, the campaign's lock, its status change), the
counters' trigger and the commit.
"""

import statistics
import time

import asyncpg
import httpx

from bench.common import (
    Databases,
    api_command,
    client,
    delete_queues,
    new_campaign,
    new_queue_name,
    processes,
    report,
    rss_mb,
    wait_ready,
)

SEGMENT_TARGET = 1.3  # times the floor
DETAIL_TARGET_MS = 20.0

_FLOOR_TABLE = """
    CREATE TABLE floor_messages (LIKE outbound_messages INCLUDING ALL);
    ALTER TABLE floor_messages
        ADD FOREIGN KEY (campaign_id) REFERENCES campaigns (id) ON DELETE CASCADE,
        ADD FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE RESTRICT;
"""
_FLOOR_INSERT = """
    INSERT INTO floor_messages
        (campaign_id, customer_id, status, retry_count, available_at, created_at, updated_at)
    SELECT $1, id, 'pending', 0, now(), now(), now() FROM customers
"""


async def _floor_seconds(connection: asyncpg.Connection, campaign_id: int) -> float:
    await connection.execute("TRUNCATE floor_messages")
    started = time.perf_counter()
    await connection.execute(_FLOOR_INSERT, campaign_id)
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
    databases: Databases, customers: int, rounds: int, memory: dict[str, float]
) -> None:
    queue = new_queue_name()
    async with databases.fresh(customers=customers) as database_url:
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute(_FLOOR_TABLE)
            # No worker runs: the messages stay pending, and the outbox relay is not in
            # the API process when a broker is configured.
            with processes([api_command(database_url, queue)]) as procs:
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
                    ratio = send / floor
                    report(
                        f"segment send, {customers} customers, p50 of {rounds}",
                        ratio,
                        "x",
                        f"<= {SEGMENT_TARGET} x floor; send {send * 1000:.0f} ms, "
                        f"floor {floor * 1000:.0f} ms",
                        ratio <= SEGMENT_TARGET,
                    )
                    await _detail(http, campaign_id, customers)
                memory["api (segment sends)"] = rss_mb(procs[0].pid)
        finally:
            await connection.close()
    await delete_queues(queue)


async def _detail(http: httpx.AsyncClient, campaign_id: int, messages: int) -> None:
    samples = []
    for _ in range(50):
        started = time.perf_counter()
        response = await http.get(f"/campaigns/{campaign_id}")
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    total = response.json()["stats"]["total"]
    if total != messages:
        raise RuntimeError(f"detail says {total} messages, not {messages}")
    p50 = statistics.median(samples)
    report(
        f"GET /campaigns/{{id}}, {messages} messages, p50 of 50",
        p50,
        "ms",
        f"< {DETAIL_TARGET_MS:.0f} ms",
        p50 < DETAIL_TARGET_MS,
    )
