"""CPU accounting from /proc text (bench/cpu.py): one process, and PostgreSQL's tree."""

import os

import pytest
from bench import cpu


def stat_line(pid, comm, ppid, utime, stime, cutime=0, cstime=0):
    # Fields 1-2, then 3 (state) to 22 (starttime) and a few more, as the kernel writes.
    rest = [ppid, pid, pid, 0, -1, 4194560, 100, 0, 0, 0, utime, stime, cutime, cstime]
    rest += [20, 0, 1, 0, 12345, 1000, 200]
    return f"{pid} ({comm}) S " + " ".join(str(v) for v in rest) + "\n"


def test_parse_reads_the_time_fields():
    stat = cpu.parse_stat(stat_line(42, "python", 1, utime=300, stime=50, cutime=7, cstime=3))
    assert (stat.pid, stat.comm, stat.ppid) == (42, "python", 1)
    assert (stat.utime, stat.stime, stat.cutime, stat.cstime) == (300, 50, 7, 3)
    assert stat.own == 350
    assert stat.reaped_children == 10


def test_a_command_name_with_spaces_and_parentheses():
    stat = cpu.parse_stat(stat_line(7, "postgres: x (y) z", 3, utime=11, stime=2))
    assert stat.comm == "postgres: x (y) z"
    assert (stat.ppid, stat.utime, stat.stime) == (3, 11, 2)


def test_not_a_stat_line():
    with pytest.raises(ValueError, match="stat"):
        cpu.parse_stat("nonsense")


def test_this_process_parses_from_the_real_proc():
    stat = cpu.read_stat(os.getpid())
    assert stat is not None
    assert stat.pid == os.getpid()
    assert stat.ppid == os.getppid()


def test_the_tree_counts_the_root_its_reaped_children_and_its_live_children_only():
    root = cpu.parse_stat(stat_line(10, "postgres", 1, 100, 20, cutime=30, cstime=5))
    child = cpu.parse_stat(stat_line(11, "postgres", 10, 40, 4))
    other = cpu.parse_stat(stat_line(12, "beam.smp", 1, 999, 999))
    own, children = cpu.tree_ticks(root, [root, child, other])
    assert own == 155
    assert children == {11: 44}


def test_a_backend_that_exits_between_snapshots_is_counted_once():
    # 11 used 40 ticks by the first snapshot and 60 when it exited, reaped into cutime;
    # 12 started after the first snapshot and used 5; the postmaster itself used 2.
    before = cpu.Snapshot({"worker": 1000}, postgres_root=100, postgres_children={11: 40})
    after = cpu.Snapshot({"worker": 1100}, postgres_root=100 + 2 + 60, postgres_children={12: 5})
    used = cpu.usage(before, after)
    ticks = cpu.TICKS_PER_SECOND
    assert used.postgres == pytest.approx((2 + 60 - 40 + 5) / ticks)
    assert used.named == {"worker": pytest.approx(100 / ticks)}
    assert used.total == pytest.approx((100 + 27) / ticks)


def test_without_the_postmaster_postgres_is_not_measured():
    before = cpu.Snapshot({"api": 5})
    after = cpu.Snapshot({"api": 8})
    used = cpu.usage(before, after)
    assert used.postgres is None
    assert used.total == pytest.approx(3 / cpu.TICKS_PER_SECOND)


def test_a_snapshot_of_this_process_sums_its_pids_and_finds_a_tree():
    mine = os.getpid()
    while (stat := cpu.read_stat(mine)) is not None and stat.own < 2:
        sum(range(10_000))  # burn a few ticks of CPU
    taken = cpu.snapshot({"me": [mine, mine], "gone": [2**22 + 1]}, postmaster=os.getppid())
    assert taken.named["me"] >= 4
    assert taken.named["me"] % 2 == 0  # one reading, counted once per pid given
    assert taken.named["gone"] == 0
    assert taken.postgres_root is not None
    assert mine in taken.postgres_children  # this process is a child of its parent


DB = "campaign_dispatch_bench_ab12cd_ef34gh"


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        (f"postgres: 15/main: postgres {DB} 127.0.0.1(40000) idle", cpu.THIS_DATABASE),
        (f"postgres: postgres {DB} 127.0.0.1(40000) UPDATE", cpu.THIS_DATABASE),
        (f"postgres: 15/main: autovacuum worker {DB}", cpu.THIS_DATABASE),
        (f"postgres: 15/main: postgres {DB}_template_100 [local] idle", cpu.OTHER),
        ("postgres: 15/main: postgres campaign_dispatch_test_1 127.0.0.1(1) idle", cpu.OTHER),
        ("postgres: 15/main: autovacuum worker test", cpu.OTHER),
        ("postgres: 15/main: checkpointer", cpu.SERVER),
        ("postgres: walwriter", cpu.SERVER),
        ("postgres: 15/main: logical replication launcher", cpu.SERVER),
        ("", cpu.OTHER),
    ],
)
def test_what_a_postgres_process_serves_from_its_title(title, kind):
    assert cpu.classify(title, DB) == kind


def test_a_parallel_worker_serves_what_its_leader_serves():
    title = "postgres: 15/main: parallel worker for PID 11"
    assert cpu.classify(title, DB, {11: cpu.THIS_DATABASE}) == cpu.THIS_DATABASE
    assert cpu.classify(title, DB, {11: cpu.OTHER}) == cpu.OTHER
    assert cpu.classify(title, DB) == cpu.OTHER


def snap(root_own, reaped, children, titles):
    return cpu.Snapshot({}, root_own + reaped, children, root_own, titles)


def test_attribution_splits_the_tree_by_what_each_child_served_and_sums_to_it():
    ours = f"postgres: postgres {DB} 127.0.0.1(1) idle"
    theirs = "postgres: postgres other 127.0.0.1(2) idle"
    server = "postgres: 15/main: checkpointer"
    samples = [
        snap(10, 0, {1: 100, 2: 50, 3: 7}, {1: ours, 2: theirs, 3: server}),
        # 4 (ours) is born; 2 (theirs) has used 10 more.
        snap(11, 0, {1: 120, 2: 60, 3: 8, 4: 5}, {1: ours, 2: theirs, 3: server, 4: ours}),
        # 2 exits (reaped 60), 4 exits having used 2 more after the last snapshot that saw
        # it (reaped 7), 5 came and went between snapshots with 9 (reaped 9).
        snap(13, 76, {1: 130, 3: 9}, {1: ours, 3: server}),
    ]
    split = cpu.attribute(samples, DB)
    ticks = {kind: round(s * cpu.TICKS_PER_SECOND) for kind, s in split.items()}
    assert ticks == {
        cpu.POSTMASTER: 3,
        cpu.THIS_DATABASE: 30 + 5,  # 1: 100 -> 130; 4: 0 -> 5 (its last 2 unseen)
        cpu.SERVER: 2,
        cpu.OTHER: 10,  # 2: 50 -> 60
        cpu.UNSEEN: 2 + 9,
    }
    whole = cpu.usage(samples[0], samples[-1]).postgres
    assert whole is not None
    assert sum(split.values()) == pytest.approx(whole)


def test_no_attribution_without_the_postmaster():
    assert cpu.attribute([cpu.Snapshot({}), cpu.Snapshot({})], DB) == {}
