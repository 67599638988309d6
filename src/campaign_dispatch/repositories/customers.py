from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.models import Customer
from campaign_dispatch.repositories.id_lists import id_table
from campaign_dispatch.repositories.pagination import PageRequest, PageResult, paginate
from campaign_dispatch.schemas.common import MAX_ID


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


async def insert_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(Customer), list(rows))
