"""Large id lists as one bound parameter: a PostgreSQL array or a SQLite JSON array.

Both let set-based SQL (`INSERT … SELECT`, anti-joins) take 100 000 ids in a single
statement instead of a row-at-a-time loop or a giant `IN (…)` list.
"""

import json
from collections.abc import Sequence

from sqlalchemy import BigInteger, BindParameter, Subquery, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession


def id_table(session: AsyncSession, ids: Sequence[int], name: str = "ids") -> Subquery:
    """A one-column table `name.c.id` holding `ids`."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        array = bindparam(f"{name}_array", list(ids), type_=ARRAY(BigInteger()))
        unnested = func.unnest(array).table_valued("id").render_derived(name=f"{name}_fn")
        return select(unnested.c.id).subquery(name)
    json_array: BindParameter[str] = bindparam(f"{name}_json", json.dumps(list(ids)))
    each = func.json_each(json_array).table_valued("value")
    return select(each.c.value.label("id")).subquery(name)
