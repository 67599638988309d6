from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.clock import utcnow
from campaign_dispatch.models import Customer
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


async def list_page(session: AsyncSession, request: PageRequest, q: str | None) -> PageResult:
    query = select(Customer)
    if q:
        # autoescape: q is text to find, so its own % and _ match literally
        needle = q.lower()
        query = query.where(
            or_(
                func.lower(Customer.first_name).contains(needle, autoescape=True),
                func.lower(Customer.last_name).contains(needle, autoescape=True),
                Customer.phone.contains(needle, autoescape=True),
                func.lower(Customer.location).contains(needle, autoescape=True),
                func.lower(Customer.preferred_product).contains(needle, autoescape=True),
            )
        )
    return await paginate(session, query, Customer.id, request, {"q": q})


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
    if not phones:
        return set()
    rows = await session.scalars(select(Customer.phone).where(Customer.phone.in_(phones)))
    return set(rows.all())


async def insert_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Insert customers, skipping phones that exist (also ones a concurrent import just added).

    Returns how many were inserted.
    """
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    inserted = 0
    for start in range(0, len(rows), 1000):  # bounded by SQLite's parameter limit
        chunk = [
            {**row, "created_at": now, "updated_at": now} for row in rows[start : start + 1000]
        ]
        statement = (
            upsert(Customer)
            .values(chunk)
            .on_conflict_do_nothing(index_elements=["phone"])
            .returning(Customer.id)
        )
        inserted += len((await session.scalars(statement)).all())
    return inserted
