"""CPU time of the processes under test, from /proc (Linux).

A process's time is its utime + stime (field 14 and 15 of /proc/<pid>/stat, every thread
together), in clock ticks. PostgreSQL is a tree: a backend per connection, forked and
exited as connections come and go, so its time is the postmaster's own, plus what its
exited children used (cutime + cstime, added to the parent once it reaps them), plus
every live child's own. Between two snapshots that counts every backend exactly once:
one alive at both is a difference of its own time; one that exited in between moves
its whole time from the live children into cutime/cstime; one that started in between
was nothing at the first snapshot.
"""

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


@dataclass(frozen=True)
class Stat:
    """The fields of /proc/<pid>/stat the bench reads."""

    pid: int
    comm: str
    ppid: int
    utime: int
    stime: int
    cutime: int
    cstime: int

    @property
    def own(self) -> int:
        return self.utime + self.stime

    @property
    def reaped_children(self) -> int:
        return self.cutime + self.cstime


def parse_stat(text: str) -> Stat:
    """Parse /proc/<pid>/stat. The command name sits in parentheses and may itself hold
    spaces and parentheses, so the fields after it are found from its last ')'."""
    head, closing, tail = text.rpartition(")")
    pid, opening, comm = head.partition(" (")
    if not closing or not opening:
        raise ValueError(f"not a /proc/<pid>/stat line: {text[:80]!r}")
    fields = tail.split()  # fields[0] is field 3 (state), so field n is fields[n - 3]
    return Stat(
        pid=int(pid),
        comm=comm,
        ppid=int(fields[1]),
        utime=int(fields[11]),
        stime=int(fields[12]),
        cutime=int(fields[13]),
        cstime=int(fields[14]),
    )


def tree_ticks(root: Stat, processes: Iterable[Stat]) -> tuple[int, dict[int, int]]:
    """The root's own and reaped children's ticks, and each live child's own ticks by
    pid (children are the processes whose parent is the root)."""
    children = {p.pid: p.own for p in processes if p.ppid == root.pid}
    return root.own + root.reaped_children, children


def read_stat(pid: int) -> Stat | None:
    try:
        return parse_stat((PROC / str(pid) / "stat").read_text())
    except (OSError, ValueError, IndexError):
        return None  # gone, or not ours to read


def every_process() -> list[Stat]:
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = read_stat(int(entry.name))
            if stat is not None:
                found.append(stat)
    return found


def by_name(processes: Iterable[Stat], comm: str) -> list[int]:
    return [p.pid for p in processes if p.comm == comm]


@dataclass(frozen=True)
class Snapshot:
    """Ticks of each named process (every pid of a name summed), of the PostgreSQL
    tree's root part (postmaster and reaped backends) and of each live backend."""

    named: dict[str, int]
    postgres_root: int | None = None
    postgres_children: dict[int, int] = field(default_factory=dict)

    @property
    def postgres(self) -> int | None:
        if self.postgres_root is None:
            return None
        return self.postgres_root + sum(self.postgres_children.values())


def snapshot(named: Mapping[str, Iterable[int]], postmaster: int | None) -> Snapshot:
    processes = every_process()
    stats = {p.pid: p for p in processes}
    ticks = {
        name: sum(stats[pid].own for pid in pids if pid in stats) for name, pids in named.items()
    }
    root = stats.get(postmaster) if postmaster is not None else None
    if root is None:
        return Snapshot(ticks)
    own, children = tree_ticks(root, processes)
    return Snapshot(ticks, own, children)


def seconds(ticks: int) -> float:
    return ticks / TICKS_PER_SECOND


@dataclass(frozen=True)
class Usage:
    """CPU seconds between two snapshots: each named process, PostgreSQL's tree (None
    when its postmaster is not visible from here), and each backend alive at the end."""

    named: dict[str, float]
    postgres: float | None
    backends: dict[int, float]

    @property
    def total(self) -> float:
        return sum(self.named.values()) + (self.postgres or 0.0)


def usage(before: Snapshot, after: Snapshot) -> Usage:
    named = {name: seconds(after.named[name] - before.named.get(name, 0)) for name in after.named}
    postgres = None
    if before.postgres is not None and after.postgres is not None:
        postgres = seconds(after.postgres - before.postgres)
    backends = {
        pid: seconds(ticks - before.postgres_children.get(pid, 0))
        for pid, ticks in after.postgres_children.items()
    }
    return Usage(named, postgres, backends)
