"""The database's clock, for the times several processes must agree on (PostgreSQL).

Leases, due times and publish marks are written and judged by the database's `now()`,
as the naive UTC the tables store, so processes whose own clocks drift still agree on
what is expired or due. SQLite runs on one machine, whose clock every process shares.
"""

from datetime import datetime

from sqlalchemy import DateTime, func
from sqlalchemy.sql.elements import ColumnElement

PG_NOW_SQL = "timezone('UTC', now())"
"""The same, for the statements written as text."""


def pg_now() -> ColumnElement[datetime]:
    return func.timezone("UTC", func.now(), type_=DateTime())
