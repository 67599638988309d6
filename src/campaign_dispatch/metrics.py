"""Prometheus metrics: counters shared by the API, worker and relay of one process, and
gauges read from the database when /metrics is scraped."""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from campaign_dispatch.statuses import CampaignStatus

MESSAGES_SENT = Counter("campaign_messages_sent_total", "Messages delivered to the provider")
MESSAGES_FAILED = Counter("campaign_messages_failed_total", "Messages failed for good")
MESSAGES_REFUSED = Counter(
    "campaign_messages_refused_total",
    "Claimed messages failed without a send: the customer opted out, the campaign expired",
    ["code"],
)
MESSAGES_HELD = Counter(
    "campaign_messages_held_total",
    "Claimed messages put back until their recipient's send window opens",
)
MESSAGES_EXPIRED = Counter(
    "campaign_messages_expired_total",
    "Pending messages failed by the sweep: their campaign's expires_at passed",
)
MESSAGES_RETRIED = Counter("campaign_messages_retried_total", "Failed attempts scheduled for retry")
SEND_ATTEMPT_SECONDS = Histogram(
    "campaign_send_attempt_seconds",
    "Duration of one provider send attempt",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
PROVIDER_OUTCOMES = Counter(
    "campaign_provider_outcomes_total",
    "Provider answers to send attempts, by provider and outcome class",
    ["provider", "outcome"],
)
RECEIPTS = Counter(
    "campaign_receipts_total",
    "Delivery receipts by webhook and result: applied, unchanged (duplicate or older "
    "news), early (no message has the id yet; kept), unknown (kept a day, never matched)",
    ["webhook", "result"],
)
INBOUND_MESSAGES = Counter(
    "campaign_inbound_messages_total", "Inbound messages stored, by webhook", ["webhook"]
)
WEBHOOKS_REJECTED = Counter(
    "campaign_webhooks_rejected_total", "Webhook requests without valid proof", ["webhook"]
)
RATE_LIMIT_WAIT_SECONDS = Counter(
    "campaign_rate_limit_wait_seconds_total",
    "Seconds attempts waited for the shared provider rate limit",
    ["channel"],
)
RATE_LIMIT_LATE = Counter(
    "campaign_rate_limit_late_total",
    "Attempts woken too long past their slot of the shared rate limit, given a new one",
    ["channel"],
)
RATE_LIMIT_DEFERRED = Counter(
    "campaign_rate_limit_deferred_total",
    "Attempts deferred: no slot of the shared rate limit within the claim's budget",
    ["channel"],
)
IN_FLIGHT = Gauge("campaign_messages_in_flight", "Messages being sent by this process")
JOBS_PUBLISHED = Counter("campaign_jobs_published_total", "Jobs published by the outbox relay")


class _ReceiptCounts(Protocol):
    applied: int
    unchanged: int
    early: int


def count_receipts(webhook: str, counts: _ReceiptCounts) -> None:
    for result in ("applied", "unchanged", "early"):
        if n := getattr(counts, result):
            RECEIPTS.labels(webhook, result).inc(n)


@dataclass(frozen=True)
class DatabaseSnapshot:
    outbox_backlog: int
    campaigns_by_status: Mapping[str, int]


class _DatabaseCollector(Collector):
    """Gauges of one scrape's database reading (None: the database could not be read)."""

    def __init__(self, snapshot: DatabaseSnapshot | None) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "campaign_database_up",
            "Whether this scrape could read the database",
            value=int(self.snapshot is not None),
        )
        if self.snapshot is None:
            return
        yield GaugeMetricFamily(
            "campaign_outbox_backlog",
            "Pending messages not yet published to the queue",
            value=self.snapshot.outbox_backlog,
        )
        campaigns = GaugeMetricFamily(
            "campaign_campaigns", "Campaigns by status", labels=["status"]
        )
        for status in CampaignStatus:
            campaigns.add_metric([status], self.snapshot.campaigns_by_status.get(status, 0))
        yield campaigns


def exposition(snapshot: DatabaseSnapshot | None) -> bytes:
    """This process's metrics (with the default process and platform collectors), then the
    database gauges: one text-format document."""
    database = CollectorRegistry(auto_describe=False)
    database.register(_DatabaseCollector(snapshot))
    return generate_latest(REGISTRY) + generate_latest(database)
