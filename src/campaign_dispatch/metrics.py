"""Prometheus metrics shared by the API, worker and relay of one process."""

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_SENT = Counter("campaign_messages_sent_total", "Messages delivered to the provider")
MESSAGES_FAILED = Counter("campaign_messages_failed_total", "Messages failed for good")
MESSAGES_RETRIED = Counter("campaign_messages_retried_total", "Failed attempts scheduled for retry")
SEND_ATTEMPT_SECONDS = Histogram(
    "campaign_send_attempt_seconds",
    "Duration of one provider send attempt",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
IN_FLIGHT = Gauge("campaign_messages_in_flight", "Messages being sent by this process")
JOBS_PUBLISHED = Counter("campaign_jobs_published_total", "Jobs published by the outbox relay")
