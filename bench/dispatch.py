"""End-to-end dispatch beside the floor, and what it costs in CPU and in PostgreSQL.

A run: real `campaign-dispatch api` and one `worker` (mock latency 0) on a fresh
database and a fresh queue name; a 1 000-message warm-up campaign; then one campaign of
`--messages`, timed from just before the send call to the last message's final
`updated_at` in the database. Each round measures the floor (bench/floor.py) and then
the run(s), so that the floor and the figure come from the same minutes of a shared
2-core machine; each figure is the median of its rounds.

Over the timed window of the default configuration's run the bench also takes:
- CPU time from /proc (bench/cpu.py) of the api, the worker, PostgreSQL's whole tree and
  RabbitMQ's VM, snapshotted just before the send call and as soon as the campaign is
  final: the sum over the messages is the pipeline's CPU cost per message;
- pg_stat_statements (bench/pgstats.py), reset for the bench's database just before the
  send call and summed when final: PostgreSQL's execution time per message, and the
  statements it went to (the profile the hot path is tuned against).

Other variants (RABBITMQ_PUBLISHER's publish paths) can run beside the default, each
timed only, and are compared as INFO lines.
"""

import statistics
import subprocess
import sys
from dataclasses import dataclass, field

import asyncpg

from bench import cpu, pgstats
from bench.common import (
    ROOT,
    Databases,
    api_command,
    broker_pids,
    client,
    delete_queues,
    dispatch_seconds,
    new_queue_name,
    postmaster_pid,
    processes,
    wait_ready,
    worker_command,
)
from bench.table import Row, Table, info, number, ratio

DISPATCH_TARGET = 2.5  # times the floor
CPU_TARGET_US = 350.0  # every process together, per message
PG_TARGET_US = 120.0  # PostgreSQL's execution time, per message
WORKER_TARGET_US = 150.0  # the worker process alone, per message
DEFAULT = "default"


@dataclass(frozen=True)
class Variant:
    name: str
    what: str
    environment: dict[str, str] = field(default_factory=dict)


VARIANTS = {
    v.name: v
    for v in (
        # Whatever the code does by default (no setting): the table's variant.
        Variant(DEFAULT, "the code's default configuration"),
        Variant(
            "frames",
            "custom publish frames into aiormq's channel",
            {"RABBITMQ_PUBLISHER": "frames"},
        ),
        Variant(
            "aio-pika",
            "aio-pika exchange.publish, gathered",
            {"RABBITMQ_PUBLISHER": "aio-pika"},
        ),
    )
}
# (candidate, without it, what it measures, the speed-up that keeps the candidate). The
# custom path must beat the supported one by 1.3x end to end to be worth its risk.
COMPARISONS = (("frames", "aio-pika", "custom publish path vs supported path", 1.3),)


def measure_floor(messages: int) -> float:
    result = subprocess.run(  # noqa: S603 (our own module, fixed arguments)
        [sys.executable, "-m", "bench.floor", "--messages", str(messages)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return float(result.stdout.strip().splitlines()[-1])


@dataclass
class Profile:
    """CPU and PostgreSQL over one timed dispatch window (a Probe for dispatch_seconds)."""

    pids: dict[str, list[int]]
    statements_on: bool
    usage: cpu.Usage | None = None
    statements: list[pgstats.Statement] = field(default_factory=list)
    bench_backends: set[int] = field(default_factory=set)
    _postmaster: int | None = None
    _before: cpu.Snapshot | None = None

    async def start(self, connection: asyncpg.Connection) -> None:
        self._postmaster = await postmaster_pid(connection)
        if self.statements_on:
            await pgstats.reset(connection)
        self._before = cpu.snapshot(self.pids, self._postmaster)

    async def stop(self, connection: asyncpg.Connection) -> None:
        after = cpu.snapshot(self.pids, self._postmaster)
        assert self._before is not None
        self.usage = cpu.usage(self._before, after)
        if self.statements_on:
            self.statements = await pgstats.read(connection)
        self.bench_backends = {
            int(pid)
            for pid in await connection.fetchval(
                "SELECT array_agg(pid) FROM pg_stat_activity WHERE datname = current_database()"
            )
            or []
        }

    @property
    def postgres_exec_ms(self) -> float:
        return sum(s.total_ms for s in self.statements)


@dataclass
class Run:
    rate: float
    messages: int
    profile: Profile | None = None


async def dispatch_once(
    databases: Databases,
    variant: Variant,
    messages: int,
    profiled: bool = False,
    customers: int = 100_000,
) -> Run:
    queue = new_queue_name()
    async with databases.fresh(customers=customers) as database_url:
        statements_on = False
        if profiled:
            connection = await asyncpg.connect(database_url)
            try:
                statements_on = await pgstats.enable(connection)
            finally:
                await connection.close()
        api = api_command(database_url, queue, **variant.environment)
        worker = worker_command(database_url, queue, **variant.environment)
        with processes([api, worker]) as procs:
            profile = None
            if profiled:
                pids = {"api": [procs[0].pid], "worker": [procs[1].pid]}
                profile = Profile({**pids, "rabbitmq": broker_pids()}, statements_on)
            async with client() as http:
                await wait_ready(http)
                await dispatch_seconds(http, database_url, 1000)  # warm-up; workers connected
                seconds = await dispatch_seconds(http, database_url, messages, probe=profile)
    await delete_queues(queue)
    return Run(messages / seconds, messages, profile)


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values)


def _per_message_us(seconds: float, messages: int) -> float:
    return seconds * 1_000_000 / messages


async def bench_dispatch(
    databases: Databases,
    table: Table,
    names: list[str],
    messages: int,
    rounds: int,
    customers: int,
) -> None:
    """The table's dispatch lines (the default configuration, profiled), and an INFO line
    per extra variant and per comparison between variants that ran."""
    names = [DEFAULT, *(n for n in names if n != DEFAULT)]
    runs: dict[str, list[Run]] = {name: [] for name in names}
    floors: list[float] = []
    for round_number in range(rounds):
        floors.append(measure_floor(messages))
        order = names if round_number % 2 == 0 else names[::-1]
        for name in order:
            run = await dispatch_once(
                databases, VARIANTS[name], messages, profiled=name == DEFAULT, customers=customers
            )
            runs[name].append(run)
        print(
            f"      round {round_number + 1}/{rounds}: floor {floors[-1]:.0f}; "
            + "; ".join(f"{name} {runs[name][-1].rate:.0f}" for name in names),
            flush=True,
        )
    floor = statistics.median(floors)
    rates = {name: [r.rate for r in runs[name]] for name in names}
    figure = statistics.median(rates[DEFAULT])
    table.add(
        Row(
            f"dispatch, 1 worker, mock latency 0, {messages} messages (median of {rounds})",
            f"{number(figure)} msg/s",
            f"≥ {DISPATCH_TARGET} x floor",
            figure / floor >= DISPATCH_TARGET,
            floor=f"{number(floor)} msg/s",
            ratio=ratio(figure / floor),
        )
    )
    info(f"dispatch rounds: default {_fmt(rates[DEFAULT])} msg/s; floors {_fmt(floors)} msg/s")
    _cost_rows(table, [r.profile for r in runs[DEFAULT] if r.profile is not None], messages)
    for name in names[1:]:
        other = statistics.median(rates[name])
        info(
            f"dispatch {messages} msgs, 1 worker, latency 0, {name:<8} {other:>7.0f} msg/s  "
            f"floor {floor:>7.0f} msg/s  ratio {other / floor:.3f}  "
            f"({VARIANTS[name].what}; runs {_fmt(rates[name])})"
        )
    for faster, slower, what, bar in COMPARISONS:
        if faster in rates and slower in rates:
            speedup = statistics.median(rates[faster]) / statistics.median(rates[slower])
            verdict = "pays" if speedup >= bar else "does not pay"
            info(f"{what}: {faster} / {slower} = {speedup:.3f}x (keep at >= {bar}x: {verdict})")


def _cost_rows(table: Table, profiles: list[Profile], messages: int) -> None:
    """CPU per message (all processes; the worker alone) and PostgreSQL's execution time
    per message: medians over the rounds; the statement profile of the last round."""
    usages = [p.usage for p in profiles if p.usage is not None]
    if not usages:
        return
    measured = all(u.postgres is not None for u in usages)
    totals = [_per_message_us(u.total, messages) for u in usages]
    total = statistics.median(totals)
    total_what = "all processes (api, worker, PostgreSQL, RabbitMQ)"
    if not measured:
        total_what = "api, worker and RabbitMQ only: PostgreSQL's processes are not visible here"
    table.add(
        Row(
            f"CPU per dispatched message, {total_what}",
            f"{total:.0f} µs",
            f"≤ {CPU_TARGET_US:.0f} µs",
            measured and total <= CPU_TARGET_US,
        )
    )
    shares = {
        name: statistics.median(_per_message_us(u.named[name], messages) for u in usages)
        for name in usages[0].named
    }
    if measured:
        shares["postgres"] = statistics.median(
            _per_message_us(u.postgres or 0.0, messages) for u in usages
        )
    info(
        "CPU per message by process (median of rounds): "
        + ", ".join(f"{name} {us:.0f} µs" for name, us in shares.items())
        + f"; totals {_fmt(totals)} µs"
    )
    last = profiles[-1]
    if last.usage is not None and last.usage.postgres is not None:
        ours = sum(s for pid, s in last.usage.backends.items() if pid in last.bench_backends)
        others = sum(s for pid, s in last.usage.backends.items() if pid not in last.bench_backends)
        rest = last.usage.postgres - ours - others
        info(
            f"PostgreSQL CPU in the last round: {ours * 1000:.0f} ms in the bench database's "
            f"live backends, {others * 1000:.0f} ms in other live processes (other databases' "
            f"backends, background workers), {rest * 1000:.0f} ms in the postmaster and "
            "backends that exited"
        )
    _postgres_row(table, profiles, messages)
    worker = statistics.median(_per_message_us(u.named["worker"], messages) for u in usages)
    table.add(
        Row(
            "of which the worker process",
            f"{worker:.0f} µs",
            f"≤ {WORKER_TARGET_US:.0f} µs",
            worker <= WORKER_TARGET_US,
        )
    )


def _postgres_row(table: Table, profiles: list[Profile], messages: int) -> None:
    what = "of which PostgreSQL execution time (pg_stat_statements, send to final)"
    target = f"≤ {PG_TARGET_US:.0f} µs"
    if not all(p.statements_on for p in profiles):
        info(
            f"PostgreSQL execution time not measured: the {pgstats.MODULE} module is not "
            f"loaded. To enable it: {pgstats.HOW_TO_ENABLE}"
        )
        table.add(Row(what, "not measured", target, False))
        return
    per_message = statistics.median(
        _per_message_us(p.postgres_exec_ms / 1000, messages) for p in profiles
    )
    table.add(Row(what, f"{per_message:.0f} µs", target, per_message <= PG_TARGET_US))
    info(f"top statements of the last round ({messages} messages):")
    for text in pgstats.profile_lines(profiles[-1].statements, messages):
        print(f"      {text}", flush=True)
