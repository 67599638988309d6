"""CPU of an idle deployment: every service process plus PostgreSQL, nothing due.

The default deployment's processes (docker-compose.yml): `api`, `worker` (which also
runs the outbox relay and recovery) and `scheduler` (scheduled releases, plus its own
relay and recovery), on a fresh database. Once they are up and a small campaign has
gone through (so that every loop has started and done its work once), and a second
later, the bench measures their CPU time from /proc over the window, with PostgreSQL's
(bench/cpu.py), as a share of one core.

PostgreSQL serves the whole machine, and other suites use it while the bench runs (a
test suite's connections come and go by the hundred), so its part is what served this
deployment: the postmaster, the server's own processes (checkpointer, WAL writer, …)
and the backends of the bench's database. The bench snapshots /proc twice a second (it
reads files, PostgreSQL does no work for it) to see short-lived backends and what they
served. An INFO line gives the rest of the tree (other databases, and backends that
came and went between two snapshots, whoever they served), and how many connections to
the bench's database opened during the window (pg_stat_database.sessions): a pool that
reconnected while idle would show there.
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
SAMPLE_SECONDS = 0.5
OURS = (cpu.POSTMASTER, cpu.SERVER, cpu.THIS_DATABASE)


async def _sessions(database_url: str) -> tuple[int, str, int | None]:
    """(connections opened to this database so far, its name, the postmaster's pid)."""
    connection = await asyncpg.connect(database_url)
    try:
        name = str(await connection.fetchval("SELECT current_database()"))
        # The statistics a backend reports are cached for its transaction; a fresh
        # connection reads the current ones.
        sessions = await connection.fetchval(
            "SELECT sessions FROM pg_stat_database WHERE datname = $1", name
        )
        return int(sessions or 0), name, await postmaster_pid(connection)
    finally:
        await connection.close()


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
                await dispatch_seconds(http, database_url, 100, watch=procs)
            await asyncio.sleep(1)
            sessions_before, database, postmaster = await _sessions(database_url)
            pids = {role: [p.pid] for role, p in zip(ROLES, procs, strict=True)}
            samples = [cpu.snapshot(pids, postmaster)]
            started = time.monotonic()
            while (left := started + seconds - time.monotonic()) > 0:
                await asyncio.sleep(min(SAMPLE_SECONDS, left))
                samples.append(cpu.snapshot(pids, postmaster))
            wall = time.monotonic() - started
            for role, process in zip(ROLES, procs, strict=True):
                if process.poll() is not None:
                    raise RuntimeError(f"the {role} process exited while idle")
            # The connection that reads the count is itself one session more.
            sessions_after = (await _sessions(database_url))[0] - 1
    await delete_queues(queue)
    used = cpu.usage(samples[0], samples[-1])
    share = {name: s * 100 / wall for name, s in used.named.items()}
    split = cpu.attribute(samples, database)
    if not split:
        table.add(
            Row(
                f"idle {wall:.0f} s: api, worker, scheduler (PostgreSQL not visible here)",
                f"{sum(share.values()):.2f} % of one core",
                f"< {IDLE_TARGET} % of one core",
                False,
            )
        )
        return
    share["postgres"] = sum(split[kind] for kind in OURS) * 100 / wall
    info(
        "idle CPU by process: "
        + ", ".join(f"{name} {pct:.3f} %" for name, pct in share.items())
        + "; PostgreSQL's tree by what it served: "
        + ", ".join(f"{kind} {s * 100 / wall:.3f} %" for kind, s in split.items())
        + f" (left out: {cpu.OTHER}, {cpu.UNSEEN}); "
        f"{sessions_after - sessions_before} connection(s) to the bench database opened "
        f"during the window; {len(samples)} snapshots"
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
