"""CPU of an idle deployment: every service process plus PostgreSQL, nothing due.

The default deployment's processes (docker-compose.yml): `api`, `worker` (which also
runs the outbox relay and recovery) and `scheduler` (scheduled releases, plus its own
relay and recovery), on a fresh database. Once they are up and a small campaign has
gone through (so that every loop has started and done its work once), and a second
later, the bench sleeps for the measured window and takes their CPU time from /proc
with PostgreSQL's whole tree (bench/cpu.py), reported as a share of one core.
PostgreSQL's tree includes its own background processes, and any other database's
backends that were busy meanwhile (an INFO line says how much that was).
"""

import asyncio
import time

import asyncpg

from bench import cpu
from bench.common import (
    Databases,
    api_command,
    client,
    delete_queues,
    dispatch_seconds,
    new_queue_name,
    postmaster_pid,
    processes,
    scheduler_command,
    wait_ready,
    worker_command,
)
from bench.table import Row, Table, info

IDLE_TARGET = 0.5  # % of one core
ROLES = ("api", "worker", "scheduler")


async def bench_idle(databases: Databases, table: Table, seconds: float, customers: int) -> None:
    queue = new_queue_name()
    async with databases.fresh(customers=customers) as database_url:
        commands = [
            api_command(database_url, queue),
            worker_command(database_url, queue),
            scheduler_command(database_url, queue),
        ]
        with processes(commands) as procs:
            async with client() as http:
                await wait_ready(http)
                await dispatch_seconds(http, database_url, 100)
            connection = await asyncpg.connect(database_url)
            try:
                postmaster = await postmaster_pid(connection)
                ours = await _backends(connection)
            finally:
                await connection.close()
            await asyncio.sleep(1)
            pids = {role: [p.pid] for role, p in zip(ROLES, procs, strict=True)}
            before = cpu.snapshot(pids, postmaster)
            started = time.monotonic()
            await asyncio.sleep(seconds)
            after = cpu.snapshot(pids, postmaster)
            wall = time.monotonic() - started
            for role, process in zip(ROLES, procs, strict=True):
                if process.poll() is not None:
                    raise RuntimeError(f"the {role} process exited while idle")
    await delete_queues(queue)
    used = cpu.usage(before, after)
    share = {name: s * 100 / wall for name, s in used.named.items()}
    if used.postgres is None:
        table.add(
            Row(
                f"idle {wall:.0f} s: api, worker, scheduler (PostgreSQL not visible here)",
                f"{sum(share.values()):.2f} % of one core",
                f"< {IDLE_TARGET} % of one core",
                False,
            )
        )
        return
    share["postgres"] = used.postgres * 100 / wall
    others = sum(s for pid, s in used.backends.items() if pid not in ours)
    info(
        "idle CPU by process: "
        + ", ".join(f"{name} {pct:.3f} %" for name, pct in share.items())
        + f" (of PostgreSQL's, {others * 100 / wall:.3f} % in live processes other than the "
        "bench database's backends: background workers, other databases)"
    )
    total = sum(share.values())
    table.add(
        Row(
            f"idle {wall:.0f} s: api, worker, scheduler and PostgreSQL, nothing due",
            f"{total:.2f} % of one core",
            f"< {IDLE_TARGET} % of one core",
            total < IDLE_TARGET,
        )
    )


async def _backends(connection: asyncpg.Connection) -> set[int]:
    rows = await connection.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    )
    return {int(r["pid"]) for r in rows}
