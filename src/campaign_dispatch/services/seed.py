"""Sample data for a first run (`campaign-dispatch seed`)."""

from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch.repositories import seed as repo


async def load_sample_data(session: AsyncSession, if_empty: bool) -> dict[str, int]:
    """Idempotent: only what is missing is added; `if_empty` adds nothing to a database
    that already has customers."""
    if if_empty and await repo.has_customers(session):
        return {"customers_created": 0, "campaigns_created": 0}
    return await repo.seed(session)
