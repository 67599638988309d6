"""What a verified webhook carried: receipts applied, inbound messages stored and their
opt-out keywords applied, in one transaction (a provider that retries the webhook changes
nothing twice)."""

from collections.abc import Sequence
from datetime import datetime

from campaign_dispatch import phones
from campaign_dispatch.config import Settings
from campaign_dispatch.db import Database
from campaign_dispatch.providers.events import Inbound, Receipt
from campaign_dispatch.repositories import receipts as receipts_repo
from campaign_dispatch.repositories.consent import ConsentChange, record_consent
from campaign_dispatch.repositories.receipts import ReceiptCounts, StoredInbound
from campaign_dispatch.statuses import ConsentSource

OPT_OUT_KEYWORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit"})
OPT_IN_KEYWORDS = frozenset({"start", "unstop", "yes"})

_DEFAULT_REGION = str(Settings.model_fields["default_region"].default)


def consent_change(message: StoredInbound, region: str) -> ConsentChange | None:
    """The opt-out or opt-in a message asks for: its whole text, trimmed and case-folded,
    is one of the keywords, and its sender is a valid number (as E.164)."""
    keyword = message.text.strip().casefold()
    if keyword in OPT_OUT_KEYWORDS:
        opted_out = True
    elif keyword in OPT_IN_KEYWORDS:
        opted_out = False
    else:
        return None
    phone = phones.normalize_sender(message.from_number, region)
    if phone is None:
        return None
    detail = f"{keyword} via {message.provider}"
    return ConsentChange(None, phone, opted_out, ConsentSource.INBOUND, detail)


async def ingest(
    database: Database,
    events: Sequence[Receipt | Inbound],
    now: datetime,
    region: str = _DEFAULT_REGION,
) -> tuple[ReceiptCounts, int]:
    """The receipts' counts, and how many inbound messages were new.

    A new inbound message that is an opt-out keyword (STOP, UNSUBSCRIBE, …) opts its
    sender out, an opt-in keyword (START, UNSTOP, YES) back in; senders written in a
    national format are read as `region`'s (DEFAULT_REGION). A provider's retry of a
    message already stored is not applied again.
    """
    receipts = [e for e in events if isinstance(e, Receipt)]
    inbound = [e for e in events if isinstance(e, Inbound)]
    async with database.sessions.begin() as session:
        counts = await receipts_repo.apply_receipts(session, receipts, now)
        stored = await receipts_repo.store_inbound(session, inbound, now)
        changes = [c for m in stored if (c := consent_change(m, region)) is not None]
        if changes:
            await record_consent(session, changes, now)
    return counts, len(stored)
