"""What a verified webhook carried: receipts applied, inbound messages stored, in one
transaction (a provider that retries the webhook changes nothing twice)."""

from collections.abc import Sequence
from datetime import datetime

from campaign_dispatch.db import Database
from campaign_dispatch.providers.events import Inbound, Receipt
from campaign_dispatch.repositories import receipts as receipts_repo
from campaign_dispatch.repositories.receipts import ReceiptCounts


async def ingest(
    database: Database, events: Sequence[Receipt | Inbound], now: datetime
) -> tuple[ReceiptCounts, int]:
    """The receipts' counts, and how many inbound messages were new."""
    receipts = [e for e in events if isinstance(e, Receipt)]
    inbound = [e for e in events if isinstance(e, Inbound)]
    async with database.sessions.begin() as session:
        counts = await receipts_repo.apply_receipts(session, receipts, now)
        stored = await receipts_repo.store_inbound(session, inbound, now)
    return counts, stored
