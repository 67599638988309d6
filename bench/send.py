"""The send endpoint with 10 000 customer ids: against a bare INSERT of the same rows,
and again while another campaign dispatches.

Unloaded, only the api runs (no worker: the messages stay pending; the outbox relay is
not in the api process when a broker is configured). Send calls (each to a new
campaign) alternate with the floor: `INSERT INTO floor_messages … SELECT $1,
unnest($2::bigint[]), …` of the same ids through asyncpg into an identical table
(bench/common.py's FLOOR_TABLE) of the same database. Both tables are emptied before
each of their runs, so neither inserts into bigger indexes than the other. What the
send adds over the floor is HTTP and validation, the id list's trip into SQL, the
opted-out check, the campaign's lock and status change, the counters' trigger and the
commit.

Loaded: a worker starts and a campaign of `load` messages dispatches through it; the
same send calls run while it does (each sample is kept only if the load campaign was
still dispatching when the call returned; a new load campaign starts when one ends).
Those sends insert beside the load's messages instead of into an empty table, and their
own messages join the work the worker does: that is the load.
"""

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
    campaign_final,
    client,
    delete_queues,
    dispatch_seconds,
    new_campaign,
    new_queue_name,
    processes,
    timed_send,
    wait_ready,
    worker_command,
)
from bench.table import Row, Table, info, ratio

SEND_TARGET = 1.3  # times the floor
LOADED_TARGET = 2.0  # times the unloaded p50 of the same run
IDS = 10_000

_FLOOR_INSERT = f"""
    INSERT INTO floor_messages ({FLOOR_COLUMNS})
    SELECT $1, unnest($2::bigint[]), $3, 0, now(), now(), now()
"""


async def _floor_seconds(connection: asyncpg.Connection, campaign_id: int, ids: list[int]) -> float:
    await connection.execute("TRUNCATE floor_messages")
    started = time.perf_counter()
    await connection.execute(_FLOOR_INSERT, campaign_id, ids, PENDING)
    return time.perf_counter() - started


async def _send_seconds(
    http: httpx.AsyncClient, connection: asyncpg.Connection, ids: list[int]
) -> tuple[int, float]:
    await connection.execute("TRUNCATE outbound_messages CASCADE")
    return await timed_send(http, ids)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


async def bench_send(
    databases: Databases, table: Table, runs: int, load: int, customers: int
) -> None:
    ids = list(range(1, IDS + 1))
    queue = new_queue_name()
    async with databases.fresh(customers=customers) as database_url:
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute(FLOOR_TABLE)
            with processes([api_command(database_url, queue)]):
                async with client() as http:
                    await wait_ready(http)
                    campaign_id, _ = await _send_seconds(http, connection, ids)  # warm-up
                    await _floor_seconds(connection, campaign_id, ids)
                    sends: list[float] = []
                    floors: list[float] = []
                    for round_number in range(runs):
                        campaign_id, seconds = await _send_seconds(http, connection, ids)
                        sends.append(seconds)
                        floors.append(await _floor_seconds(connection, campaign_id, ids))
                        print(
                            f"      send {round_number + 1}/{runs}: {_ms(sends[-1])}; "
                            f"floor {_ms(floors[-1])}",
                            flush=True,
                        )
                    unloaded, floor = statistics.median(sends), statistics.median(floors)
                    table.add(
                        Row(
                            f"send endpoint, {IDS} ids, p50 of {runs}, no other load",
                            _ms(unloaded),
                            f"≤ {SEND_TARGET} x floor",
                            unloaded / floor <= SEND_TARGET,
                            floor=f"{_ms(floor)} (bare INSERT … SELECT unnest)",
                            ratio=ratio(unloaded / floor),
                        )
                    )
                    await connection.execute("TRUNCATE outbound_messages CASCADE")
                    await connection.execute("TRUNCATE floor_messages")
                    loaded = await _loaded(http, connection, database_url, queue, ids, runs, load)
            table.add(
                Row(
                    f"send endpoint, {IDS} ids, p50 of {runs}, while a campaign of {load} "
                    "dispatches",
                    _ms(loaded),
                    f"≤ {LOADED_TARGET} x the unloaded p50 ({_ms(unloaded)})",
                    loaded / unloaded <= LOADED_TARGET,
                    ratio=ratio(loaded / unloaded),
                )
            )
        finally:
            await connection.close()
    await delete_queues(queue)


async def _loaded(
    http: httpx.AsyncClient,
    connection: asyncpg.Connection,
    database_url: str,
    queue: str,
    ids: list[int],
    runs: int,
    load: int,
) -> float:
    with processes([worker_command(database_url, queue)]) as procs:
        await dispatch_seconds(http, database_url, 1000, watch=procs)  # warm-up
        samples: list[float] = []
        load_id = 0
        loads = discarded = 0
        while len(samples) < runs:
            if load_id == 0 or await campaign_final(connection, load_id):
                load_id = await _start_load(http, load)
                loads += 1
            _, seconds = await timed_send(http, ids)
            if await campaign_final(connection, load_id):
                discarded += 1  # the load ended during the call: not a loaded sample
                if discarded > 3 * runs:
                    raise RuntimeError("the load campaign ends before a send call returns")
                continue
            samples.append(seconds)
            print(f"      loaded send {len(samples)}/{runs}: {_ms(seconds)}", flush=True)
    info(
        f"loaded sends: {loads} load campaign(s) of {load} messages; {discarded} sample(s) "
        "left out because the load had ended"
    )
    return statistics.median(samples)


async def _start_load(http: httpx.AsyncClient, load: int) -> int:
    campaign_id = await new_campaign(http)
    response = await http.post(
        f"/campaigns/{campaign_id}/send", json={"customer_ids": list(range(1, load + 1))}
    )
    response.raise_for_status()
    return campaign_id
