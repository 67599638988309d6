"""PostgreSQL's own account of the time it spent executing: pg_stat_statements.

The module must be loaded when the server starts (shared_preload_libraries); the bench
then creates the extension in the database it reads it from. Reset and read are both
scoped to the bench's database (its dbid), so that other databases on the server, and
anyone else reading the view, are left alone.
"""

from dataclasses import dataclass

import asyncpg

MODULE = "pg_stat_statements"
HOW_TO_ENABLE = (
    "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements' (keeping any "
    "library already listed), then restart PostgreSQL"
)
# The bench's own statements: its polling (its queries carry the marker) and the view's
# reads and resets.
_OURS = ("bench_poll", "pg_stat_statements")


@dataclass(frozen=True)
class Statement:
    query: str
    calls: int
    total_ms: float
    rows: int


async def loaded(connection: asyncpg.Connection) -> bool:
    libraries = await connection.fetchval("SHOW shared_preload_libraries")
    return MODULE in (name.strip() for name in str(libraries).split(","))


async def enable(connection: asyncpg.Connection) -> bool:
    """Create the extension in this database; False when the module is not loaded."""
    if not await loaded(connection):
        return False
    try:
        await connection.execute(f"CREATE EXTENSION IF NOT EXISTS {MODULE}")
    except asyncpg.PostgresError as error:  # e.g. a role that may not create extensions
        print(f"INFO  CREATE EXTENSION {MODULE} failed ({error}): not measured", flush=True)
        return False
    return True


async def reset(connection: asyncpg.Connection) -> None:
    await connection.execute(
        "SELECT pg_stat_statements_reset(0, oid, 0) FROM pg_database "
        "WHERE datname = current_database()"
    )


async def read(connection: asyncpg.Connection) -> list[Statement]:
    """This database's statements since the reset, the most time first, the bench's own
    left out."""
    rows = await connection.fetch(
        """SELECT query, calls, total_exec_time, rows FROM pg_stat_statements
           WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND NOT (query LIKE ANY ($1::text[]))
           ORDER BY total_exec_time DESC""",
        [f"%{marker}%" for marker in _OURS],
    )
    return [
        Statement(str(r["query"]), int(r["calls"]), float(r["total_exec_time"]), int(r["rows"]))
        for r in rows
    ]


def profile_lines(statements: list[Statement], messages: int, top: int = 12) -> list[str]:
    """The top statements as the bench prints them: calls, total ms, µs per message,
    rows per call, the query's first 90 characters on one line. Statements that read
    the same in those 90 characters are one line (an IN list of another length is
    another statement to pg_stat_statements), with how many they were."""
    groups: dict[str, list[Statement]] = {}
    for s in statements:
        groups.setdefault(" ".join(s.query.split())[:90], []).append(s)
    ranked = sorted(groups.items(), key=lambda item: -sum(s.total_ms for s in item[1]))
    lines = []
    for query, group in ranked[:top]:
        calls = sum(s.calls for s in group)
        total_ms = sum(s.total_ms for s in group)
        per_message = total_ms * 1000 / messages
        rows_per_call = sum(s.rows for s in group) / calls if calls else 0.0
        several = f" ({len(group)} statements)" if len(group) > 1 else ""
        lines.append(
            f"{calls:>8} calls {total_ms:>9.1f} ms {per_message:>7.1f} µs/msg "
            f"{rows_per_call:>8.1f} rows/call  {query}{several}"
        )
    return lines
