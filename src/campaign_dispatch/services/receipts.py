"""What a verified webhook carried: receipts applied, inbound messages stored and their
opt-out keywords applied, in one transaction (a provider that retries the webhook changes
nothing twice).

Webhooks come one receipt per request, as many as the messages sent (Twilio sends
several per message), so the API applies them by group commit (`WebhookIngest`): the
requests that arrive while one transaction runs are applied together in the next, and
each is answered once the transaction holding it has committed — never before, so a
receipt a provider was told we have is in the database.
"""

import asyncio
import contextvars
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from campaign_dispatch import metrics, phones
from campaign_dispatch.clock import utcnow
from campaign_dispatch.config import Settings
from campaign_dispatch.db import Database
from campaign_dispatch.providers.events import Inbound, Receipt
from campaign_dispatch.repositories import receipts as receipts_repo
from campaign_dispatch.repositories.consent import ConsentChange, record_consent
from campaign_dispatch.repositories.receipts import ReceiptCounts, StoredInbound
from campaign_dispatch.statuses import ConsentSource

log = structlog.get_logger(__name__)

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


async def _apply_events(
    session: AsyncSession, events: Sequence[Receipt | Inbound], now: datetime, region: str
) -> tuple[ReceiptCounts, int]:
    """The receipts' counts, and how many inbound messages were new.

    A new inbound message that is an opt-out keyword (STOP, UNSUBSCRIBE, …) opts its
    sender out, an opt-in keyword (START, UNSTOP, YES) back in; senders written in a
    national format are read as `region`'s (DEFAULT_REGION). A provider's retry of a
    message already stored is not applied again.
    """
    receipts = [e for e in events if isinstance(e, Receipt)]
    inbound = [e for e in events if isinstance(e, Inbound)]
    counts = await receipts_repo.apply_receipts(session, receipts, now)
    stored = await receipts_repo.store_inbound(session, inbound, now)
    changes = [c for m in stored if (c := consent_change(m, region)) is not None]
    if changes:
        await record_consent(session, changes, now)
    return counts, len(stored)


@dataclass
class _Webhook:
    segment: str  # the webhook route (and the metrics' label)
    events: Sequence[Receipt | Inbound]
    done: "asyncio.Future[None]"


@dataclass
class WebhookIngest:
    """Group commit for the webhook routes. `submit` returns once the request's events
    are committed (or raises what the transaction raised): one transaction applies every
    request that arrived while the previous one ran, at most `limit` of them. A failed
    transaction is tried again one request at a time, so that one bad request does not
    fail the others with it."""

    database: Database
    region: str = _DEFAULT_REGION
    limit: int = 500
    _pending: list[_Webhook] = field(default_factory=list)
    _drain: "asyncio.Task[None] | None" = None

    async def submit(self, segment: str, events: Sequence[Receipt | Inbound]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append(_Webhook(segment, events, done))
        if self._drain is None or self._drain.done():
            # In a context of its own: its log lines are not the first request's.
            self._drain = asyncio.create_task(
                self._run(), name="webhook-ingest", context=contextvars.Context()
            )
        # A request cancelled meanwhile (its client went away) is still applied with
        # its batch: the provider retries it, and a retry changes nothing twice.
        await done

    async def _run(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self.limit], self._pending[self.limit :]
            error: Exception | None = None
            try:
                await self._apply(batch)
            except Exception as exc:
                if len(batch) > 1:
                    log.warning(
                        "webhook batch failed; applying its requests one by one", size=len(batch)
                    )
                    for webhook in batch:
                        await self._apply_alone(webhook)
                    continue
                error = exc
            for webhook in batch:
                _settle(webhook, error)

    async def _apply_alone(self, webhook: _Webhook) -> None:
        try:
            await self._apply([webhook])
        except Exception as exc:
            _settle(webhook, exc)
        else:
            _settle(webhook, None)

    async def _apply(self, batch: Sequence[_Webhook]) -> None:
        by_segment: dict[str, list[Receipt | Inbound]] = defaultdict(list)
        for webhook in batch:
            by_segment[webhook.segment].extend(webhook.events)
        results = {}
        now = utcnow()
        async with self.database.sessions.begin() as session:
            for segment, events in by_segment.items():
                results[segment] = await _apply_events(session, events, now, self.region)
        for segment, (counts, stored) in results.items():  # committed: count them
            metrics.count_receipts(segment, counts)
            metrics.INBOUND_MESSAGES.labels(segment).inc(stored)


def _settle(webhook: _Webhook, error: BaseException | None) -> None:
    if webhook.done.done():  # its request was cancelled
        return
    if error is None:
        webhook.done.set_result(None)
    else:
        webhook.done.set_exception(error)
