import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BindParameter,
    DateTime,
    String,
    any_,
    bindparam,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.clock import utcnow
from campaign_dispatch.models import ConsentEvent, Customer
from campaign_dispatch.models.base import MAX_ID
from campaign_dispatch.repositories.id_lists import id_table
from campaign_dispatch.repositories.pagination import PageRequest, PageResult, paginate


async def get(session: AsyncSession, customer_id: int) -> Customer | None:
    if not 0 < customer_id <= MAX_ID:
        return None
    return await session.get(Customer, customer_id)


async def add(session: AsyncSession, values: dict[str, Any]) -> Customer:
    customer = Customer(**values)
    session.add(customer)
    await session.flush()
    return customer


@dataclass(frozen=True)
class CustomerFilter:
    """What GET /customers narrows to. `q` is searched in the names, location and
    product; `phone` is the E.164 form of q when q is a whole phone number, and
    `phone_digits` q without separators when it could be part of one."""

    q: str | None = None
    phone: str | None = None
    phone_digits: str | None = None
    opted_out: bool | None = None


async def list_page(
    session: AsyncSession, request: PageRequest, where: CustomerFilter
) -> PageResult:
    query = select(Customer)
    if where.q:
        # autoescape: q is text to find, so its own % and _ match literally
        needle = where.q.lower()
        found = [
            func.lower(Customer.first_name).contains(needle, autoescape=True),
            func.lower(Customer.last_name).contains(needle, autoescape=True),
            Customer.phone.contains(where.phone_digits or needle, autoescape=True),
            func.lower(Customer.location).contains(needle, autoescape=True),
            func.lower(Customer.preferred_product).contains(needle, autoescape=True),
        ]
        if where.phone:
            found.append(Customer.phone == where.phone)
        query = query.where(or_(*found))
    if where.opted_out is not None:
        query = query.where(
            Customer.opted_out_at.is_not(None)
            if where.opted_out
            else Customer.opted_out_at.is_(None)
        )
    filters: dict[str, object] = {"q": where.q, "opted_out": where.opted_out}
    return await paginate(session, query, Customer.id, request, filters)


async def consent_history(
    session: AsyncSession, customer_id: int, limit: int
) -> Sequence[ConsentEvent]:
    """A customer's latest consent events, newest first."""
    query = (
        select(ConsentEvent)
        .where(ConsentEvent.customer_id == customer_id)
        .order_by(ConsentEvent.id.desc())
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def missing_ids(session: AsyncSession, ids: Sequence[int]) -> list[int]:
    """The ids in `ids` that name no customer, ascending."""
    wanted = id_table(session, ids)
    query = (
        select(wanted.c.id)
        .outerjoin(Customer, Customer.id == wanted.c.id)
        .where(Customer.id.is_(None))
        .order_by(wanted.c.id)
    )
    return list((await session.scalars(query)).all())


async def existing_phones(session: AsyncSession, phones: Sequence[str]) -> set[str]:
    """The phones in `phones` that a customer has.

    The list is one bound parameter however long it is (an import has up to 200 000
    rows): `IN (…)` with one parameter per phone stops at the driver's limit, 32 767 on
    asyncpg and 32 766 on SQLite.
    """
    if not phones:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        array = bindparam("phones", list(phones), type_=ARRAY(String()))
        query = select(Customer.phone).where(Customer.phone == any_(array))
    else:
        json_array: BindParameter[str] = bindparam("phones_json", json.dumps(list(phones)))
        each = func.json_each(json_array).table_valued("value")
        query = select(Customer.phone).where(Customer.phone.in_(select(each.c.value)))
    return set((await session.scalars(query)).all())


_IMPORTED = ("phone", "first_name", "last_name", "location", "preferred_product", "timezone")


async def insert_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Insert customers, skipping phones that exist (also ones a concurrent import just added).

    One statement whatever the number of rows, each column one bound parameter: arrays
    unnested on PostgreSQL, a JSON array of rows on SQLite. (A multi-row VALUES list is
    compiled anew per batch and took most of a 100 000-row import's 20 s.)
    Returns how many were inserted.
    """
    if not rows:
        return 0
    now = bindparam("now", utcnow(), type_=DateTime())
    if session.get_bind().dialect.name == "postgresql":
        arrays = [
            bindparam(f"{name}_array", [row[name] for row in rows], type_=ARRAY(String()))
            for name in _IMPORTED
        ]
        source = func.unnest(*arrays).table_valued(*_IMPORTED).render_derived(name="source")
        values = select(*(source.c[name] for name in _IMPORTED), now, now)
        insert: postgresql.Insert | sqlite.Insert = postgresql.insert(Customer)
    else:
        table: BindParameter[str] = bindparam(
            "rows_json", json.dumps([[row[name] for name in _IMPORTED] for row in rows])
        )
        each = func.json_each(table).table_valued("value")
        columns = (func.json_extract(each.c.value, f"$[{i}]") for i in range(len(_IMPORTED)))
        # SQLite needs a WHERE in an INSERT … SELECT that has an ON CONFLICT clause.
        values = select(*columns, now, now).where(true())
        insert = sqlite.insert(Customer)
    statement = (
        insert.from_select([*_IMPORTED, "created_at", "updated_at"], values)
        .on_conflict_do_nothing(index_elements=["phone"])
        .returning(Customer.id)
    )
    return len((await session.scalars(statement)).all())
