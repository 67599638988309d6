"""`make bench`: the performance targets, measured against local PostgreSQL and RabbitMQ.

Runs real processes (`campaign-dispatch api`, `worker`, `scheduler`, `fake-provider`) on
fresh databases and fresh queue names. Each target is printed as one line as soon as it
is measured, beside its floor measured in the same run where it has one, and the whole
table again at the end as Markdown (docs/benchmarks.md says how each line is measured).
The exit status is 0 when every phase ran, whatever the verdicts (it is a report), and
1 when a phase crashed.

BENCH_SCALE=small runs every phase at sizes that take about a minute; the default
(full) uses the table's sizes. Flags override either.
"""

import argparse
import asyncio
import dataclasses
import os
import sys
import time
import traceback
from dataclasses import dataclass

from bench import dispatch, idle, listing, providers, segments, send
from bench.common import MEMORY, Databases
from bench.table import Row, Table, info

MEMORY_TARGET_MB = 150.0
PHASES = ("dispatch", "providers", "send", "segments", "listing", "idle")


@dataclass(frozen=True)
class Scale:
    messages: int  # per dispatch run
    provider_messages: int  # per provider-path run (the adapter's and the mock's)
    rounds: int  # dispatch and provider-path rounds, segment sends
    runs: int  # send-endpoint samples, unloaded and loaded
    load: int  # messages of the campaign dispatching under the loaded sends
    campaigns: int  # rows for the GET /campaigns run
    segment_customers: int  # customers (and so messages) of the segment send
    customers: int  # customers of the other phases' databases
    rate_messages: int  # messages of the rate-limit run
    samples: int  # samples per read target
    cursor_pages: int  # GET /campaigns cursor pages
    idle_seconds: float


SCALES = {
    "full": Scale(
        messages=30_000,
        provider_messages=10_000,
        rounds=3,
        runs=5,
        load=30_000,
        campaigns=1_000_000,
        segment_customers=1_000_000,
        customers=100_000,
        rate_messages=3_000,
        samples=50,
        cursor_pages=200,
        idle_seconds=60,
    ),
    "small": Scale(
        messages=5_000,
        provider_messages=2_000,
        rounds=1,
        runs=3,
        load=10_000,
        campaigns=50_000,
        segment_customers=100_000,
        customers=20_000,
        rate_messages=600,
        samples=10,
        cursor_pages=20,
        idle_seconds=10,
    ),
}


def _arguments() -> tuple[argparse.Namespace, Scale]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scale",
        choices=sorted(SCALES),
        default=os.environ.get("BENCH_SCALE", "full") or "full",
        help="sizes of every phase (default: BENCH_SCALE, else full)",
    )
    for name in (f.name for f in dataclasses.fields(Scale)):
        flag = "--" + name.replace("_", "-")
        kind = float if name == "idle_seconds" else int
        parser.add_argument(flag, type=kind, default=None, help="overrides the scale's size")
    parser.add_argument(
        "--variants",
        default="",
        help="comma-separated dispatch variants timed beside the default (INFO lines), of: "
        + ", ".join(v for v in dispatch.VARIANTS if v != dispatch.DEFAULT),
    )
    parser.add_argument("--only", choices=PHASES, default=None, help="run one phase")
    args = parser.parse_args()
    if args.scale not in SCALES:
        parser.error(f"BENCH_SCALE={args.scale}: choose from {sorted(SCALES)}")
    overrides = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(Scale)
        if getattr(args, f.name) is not None
    }
    scale = dataclasses.replace(SCALES[args.scale], **overrides)
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in args.variants if v not in dispatch.VARIANTS]
    if unknown:
        parser.error(f"unknown dispatch variants {unknown}; choose from {list(dispatch.VARIANTS)}")
    return args, scale


async def _phase(
    name: str, databases: Databases, table: Table, scale: Scale, variants: list[str]
) -> None:
    if name == "dispatch":
        await dispatch.bench_dispatch(
            databases, table, variants, scale.messages, scale.rounds, scale.customers
        )
    elif name == "providers":
        await providers.bench_provider_path(
            databases, table, scale.provider_messages, scale.rounds, scale.customers
        )
        await providers.bench_rate_limit(databases, table, scale.rate_messages, scale.customers)
    elif name == "send":
        await send.bench_send(databases, table, scale.runs, scale.load, scale.customers)
    elif name == "segments":
        await segments.bench_segments(
            databases, table, scale.segment_customers, scale.rounds, scale.samples
        )
    elif name == "listing":
        await listing.bench_listing(
            databases, table, scale.campaigns, scale.samples, scale.cursor_pages
        )
    elif name == "idle":
        await idle.bench_idle(databases, table, scale.idle_seconds, scale.customers)


def _memory_rows(table: Table) -> None:
    for role in sorted({role for role, _, _ in MEMORY.peaks}):
        by_phase: dict[str, float] = {}
        for r, phase, mb in MEMORY.peaks:
            if r == role:
                by_phase[phase] = max(by_phase.get(phase, 0.0), mb)
        info(
            f"peak RSS (VmHWM), {role}, highest per phase: "
            + ", ".join(f"{phase} {mb:.0f} MB" for phase, mb in by_phase.items())
        )
    for role in ("api", "worker"):
        peak = MEMORY.peak(role)
        if peak is None:
            continue
        mb, phase = peak
        count = sum(1 for r, _, _ in MEMORY.peaks if r == role)
        table.add(
            Row(
                f"resident memory, {role} (peak VmHWM of {count} processes; highest in {phase})",
                f"{mb:.0f} MB",
                f"< {MEMORY_TARGET_MB:.0f} MB",
                mb < MEMORY_TARGET_MB,
            )
        )


async def main() -> int:
    args, scale = _arguments()
    print(f"bench: scale {args.scale}: {scale}", flush=True)
    table = Table()
    databases = Databases()
    crashed: list[str] = []
    started = time.monotonic()
    try:
        for name in PHASES:
            if args.only not in (None, name):
                continue
            MEMORY.phase = name
            print(f"---- {name}", flush=True)
            phase_started = time.monotonic()
            try:
                await _phase(name, databases, table, scale, args.variants)
            except Exception:
                traceback.print_exc()
                print(f"CRASH  phase {name}: its targets were not measured", flush=True)
                crashed.append(name)
            print(f"      ({name}: {time.monotonic() - phase_started:.0f} s)", flush=True)
    finally:
        await databases.drop_templates()
    _memory_rows(table)
    print(f"\n## make bench, scale {args.scale} ({time.monotonic() - started:.0f} s)\n")
    print(table.markdown(), flush=True)
    if crashed:
        print(f"\ncrashed phases: {', '.join(crashed)}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
