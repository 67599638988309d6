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
from collections.abc import Iterable, Mapping, Sequence
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


def read_title(pid: int) -> str:
    """A process's command line, which a PostgreSQL process rewrites to say what it is:
    `postgres: 15/main: postgres <database> 127.0.0.1(40000) idle`, `postgres: 15/main:
    checkpointer`."""
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""


THIS_DATABASE = "this database"
SERVER = "server processes"
OTHER = "other databases"
POSTMASTER = "postmaster"
UNSEEN = "exited between snapshots"
# PostgreSQL's own processes, which serve no one database (their work is the server's:
# WAL, checkpoints, buffer writes).
SERVER_PROCESSES = (
    "checkpointer",
    "background writer",
    "walwriter",
    "autovacuum launcher",
    "logical replication launcher",
    "archiver",
    "stats collector",
    "startup",
    "walreceiver",
)


def classify(title: str, database: str, kinds: Mapping[int, str] | None = None) -> str:
    """What a postmaster child serves, from its title: the bench's database (a backend or
    an autovacuum worker of it), the server as a whole, or another database. A parallel
    worker serves what its leader serves (`kinds`: the kinds known so far, by pid)."""
    words = title.split()
    if database in words:
        return THIS_DATABASE
    if "parallel worker for PID" in title and kinds is not None:
        leader = words[-1]
        if leader.isdigit() and int(leader) in kinds:
            return kinds[int(leader)]
    if any(title.endswith(name) for name in SERVER_PROCESSES):
        return SERVER
    return OTHER


@dataclass(frozen=True)
class Snapshot:
    """Ticks of each named process (every pid of a name summed), and of PostgreSQL's
    tree: the postmaster's own, its own plus its reaped children's (`postgres_root`),
    and each live child's own, with the child's title."""

    named: dict[str, int]
    postgres_root: int | None = None
    postgres_children: dict[int, int] = field(default_factory=dict)
    postmaster_own: int = 0
    postgres_titles: dict[int, str] = field(default_factory=dict)

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
    titles = {pid: read_title(pid) for pid in children}
    return Snapshot(ticks, own, children, root.own, titles)


def seconds(ticks: int) -> float:
    return ticks / TICKS_PER_SECOND


@dataclass(frozen=True)
class Usage:
    """CPU seconds between two snapshots: each named process, and PostgreSQL's tree
    (None when its postmaster is not visible from here)."""

    named: dict[str, float]
    postgres: float | None

    @property
    def total(self) -> float:
        return sum(self.named.values()) + (self.postgres or 0.0)


def usage(before: Snapshot, after: Snapshot) -> Usage:
    named = {name: seconds(after.named[name] - before.named.get(name, 0)) for name in after.named}
    postgres = None
    if before.postgres is not None and after.postgres is not None:
        postgres = seconds(after.postgres - before.postgres)
    return Usage(named, postgres)


def attribute(samples: Sequence[Snapshot], database: str) -> dict[str, float]:
    """PostgreSQL's CPU seconds from the first snapshot to the last, by whom it served:
    each child seen in any snapshot, from its ticks at the first (0 if born later) to
    its last snapshot, goes to its kind (`classify`); the postmaster's own; and what
    children used after their last snapshot or between two (they exited unseen), the
    rest of the tree's total. The kinds sum to the tree's total."""
    first, last = samples[0], samples[-1]
    if first.postgres is None or last.postgres is None:
        return {}
    seen: dict[int, tuple[int, str]] = {}  # pid -> (last ticks, title)
    for sample in samples:
        for pid, ticks in sample.postgres_children.items():
            seen[pid] = (ticks, sample.postgres_titles.get(pid, ""))
    kinds: dict[int, str] = {}
    for pid, (_, title) in sorted(seen.items(), key=lambda item: "parallel" in item[1][1]):
        kinds[pid] = classify(title, database, kinds)
    split = {THIS_DATABASE: 0, SERVER: 0, OTHER: 0}
    for pid, (ticks, _) in seen.items():
        split[kinds[pid]] += ticks - first.postgres_children.get(pid, 0)
    split_ticks = {POSTMASTER: last.postmaster_own - first.postmaster_own, **split}
    split_ticks[UNSEEN] = last.postgres - first.postgres - sum(split_ticks.values())
    return {kind: seconds(ticks) for kind, ticks in split_ticks.items()}
