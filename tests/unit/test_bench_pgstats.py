"""The statement profile `make bench` prints from pg_stat_statements (bench/pgstats.py)."""

from bench.pgstats import Statement, profile_lines


def test_each_statement_shows_calls_time_per_message_rows_per_call_and_its_start():
    statements = [
        Statement("UPDATE outbound_messages\n   SET status = $1 " + "x" * 200, 30, 450.0, 30_000),
        Statement("SELECT 1", 0, 0.0, 0),
    ]
    first, second = profile_lines(statements, messages=30_000)
    words = ["30", "calls", "450.0", "ms", "15.0", "µs/msg", "1000.0", "rows/call"]
    assert first.split()[:8] == words
    assert "UPDATE outbound_messages SET status = $1 x" in first  # on one line
    assert first.endswith("x" * (90 - len("UPDATE outbound_messages SET status = $1 ")))
    assert second.split()[6] == "0.0"  # no calls: no division by zero


def test_only_the_top_statements():
    statements = [Statement(f"SELECT {n}", 1, float(n), 1) for n in range(20)]
    assert len(profile_lines(statements, 10, top=5)) == 5


def test_statements_that_read_alike_are_one_line_ranked_by_their_total():
    receipts = "UPDATE outbound_messages SET delivery_status=$1, delivered_at=$2 WHERE " + "x" * 40
    statements = [
        Statement("SELECT big", 1, 50.0, 1),
        Statement(receipts + "($2, $3)", 1, 30.0, 2),
        Statement(receipts + "($2, $3, $4)", 3, 40.0, 10),
    ]
    first, second = profile_lines(statements, messages=1000)
    assert first.split()[:8] == ["4", "calls", "70.0", "ms", "70.0", "µs/msg", "3.0", "rows/call"]
    assert first.endswith("(2 statements)")
    assert "SELECT big" in second
    assert "statements)" not in second
