"""GET /metrics, GET /stats and GET /ready."""

import asyncio
import gc
from contextlib import asynccontextmanager
from datetime import datetime, time, timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from campaign_dispatch.app import create_app
from campaign_dispatch.background import Role
from campaign_dispatch.clock import utcnow
from campaign_dispatch.config import Settings
from campaign_dispatch.models import Campaign, OutboundMessage
from campaign_dispatch.providers import MockSender
from tests.harness import Process
from tests.pipeline_helpers import eventually, messages, send_to_new_customers

PIPELINE = {Role.RELAY, Role.WORKER}
UNREACHABLE_DATABASE = "postgresql://postgres@127.0.0.1:1/x"
UNREACHABLE_BROKER = "amqp://guest:guest@127.0.0.1:1/"


async def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples, name, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def deltas(before, after, *names) -> dict[str, float]:
    return {name: value(after, name) - value(before, name) for name in names}


COUNTERS = (
    "campaign_messages_sent_total",
    "campaign_messages_failed_total",
    "campaign_messages_retried_total",
    "campaign_jobs_published_total",
    "campaign_send_attempt_seconds_count",
)


@asynccontextmanager
async def app_client(settings: Settings):
    runtime = Process.create(settings)
    transport = httpx.ASGITransport(app=create_app(settings, runtime.resources))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
    finally:
        await runtime.close()
        # aio-pika closes a connection that never connected from its __del__, which needs a
        # running loop: collect it here, not in a later test's synchronous setup.
        gc.collect()
        await asyncio.sleep(0.01)


async def finished(client, campaign_id, status):
    async def check():
        return (await client.get(f"/campaigns/{campaign_id}")).json()["status"] == status

    await eventually(check)


# --- /metrics ------------------------------------------------------------------------------


async def test_metrics_has_process_collectors_and_database_gauges(
    client, make_customer, make_campaign
):
    await make_campaign()
    await make_campaign(scheduled_at="2099-01-01T00:00:00Z")
    await make_campaign(scheduled_at="2099-01-01T00:00:00Z")
    await send_to_new_customers(
        client, make_customer, make_campaign, count=3
    )  # no relay runs: stays unpublished

    samples = await scrape(client)

    assert value(samples, "campaign_database_up") == 1
    assert value(samples, "campaign_outbox_backlog") == 3
    by_status = {
        status: value(samples, "campaign_campaigns", status=status)
        for status in ("draft", "scheduled", "sending", "sent", "failed")
    }
    assert by_status == {"draft": 1, "scheduled": 2, "sending": 1, "sent": 0, "failed": 0}
    assert value(samples, "process_cpu_seconds_total") >= 0
    assert any(name == "python_info" for name, _ in samples)
    assert value(samples, "campaign_messages_in_flight") == 0


async def test_counters_move_when_messages_are_sent(client, runtime, make_customer, make_campaign):
    before = await scrape(client)
    await runtime.start(PIPELINE)
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, count=3)
    await finished(client, campaign_id, "sent")

    after = await scrape(client)

    assert deltas(before, after, *COUNTERS) == {
        "campaign_messages_sent_total": 3,
        "campaign_messages_failed_total": 0,
        "campaign_messages_retried_total": 0,
        "campaign_jobs_published_total": 3,
        "campaign_send_attempt_seconds_count": 3,
    }
    assert value(after, "campaign_outbox_backlog") == 0
    assert value(after, "campaign_campaigns", status="sent") == 1


async def test_counters_move_when_messages_fail_after_retries(
    client, runtime, make_customer, make_campaign
):
    before = await scrape(client)
    runtime.sender = MockSender(failure_rate=1.0)
    # Backoffs longer than a loaded machine's gap between recording a retry and marking
    # it handed to the delay queue: a retry already due in that gap is also published by
    # the relay (a harmless duplicate, which this exact count would take for a bug).
    runtime.settings = runtime.settings.model_copy(update={"retry_base_delay_ms": 300})
    await runtime.start(PIPELINE)
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, count=2)
    await finished(client, campaign_id, "failed")

    after = await scrape(client)

    assert deltas(before, after, *COUNTERS) == {
        "campaign_messages_sent_total": 0,
        "campaign_messages_failed_total": 2,
        "campaign_messages_retried_total": 6,  # 3 retries each
        "campaign_jobs_published_total": 2,  # retries go to the queue's delay, not the outbox
        "campaign_send_attempt_seconds_count": 8,
    }
    assert value(after, "campaign_campaigns", status="failed") == 1


async def test_metrics_answer_without_the_database(settings):
    down = settings.model_copy(update={"database_url": UNREACHABLE_DATABASE})
    async with app_client(down) as client:
        samples = await scrape(client)

    assert value(samples, "campaign_database_up") == 0
    assert not any(name == "campaign_outbox_backlog" for name, _ in samples)
    assert value(samples, "campaign_messages_sent_total") >= 0


# --- /stats --------------------------------------------------------------------------------


async def test_stats_on_an_empty_database(client):
    response = await client.get("/stats")

    assert response.status_code == 200
    assert response.json() == {
        "date": utcnow().date().isoformat(),
        "campaigns_sent_today": 0,
        "messages_sent_today": 0,
        "messages_failed_today": 0,
        "failure_rate": 0.0,
        "messages_pending": 0,
    }


async def test_stats_count_what_finished_today(client, runtime, make_customer, make_campaign):
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, count=7)
    sent_yesterday = await make_campaign()
    failed_today = await make_campaign()
    sent_today = await make_campaign()
    today = datetime.combine(utcnow().date(), time())
    yesterday_late = today - timedelta(seconds=1)
    rows = await messages(runtime, campaign_id)
    outcomes = [
        ("sent", today),  # midnight is today
        ("sent", utcnow()),
        ("failed", utcnow()),
        ("sent", yesterday_late),
        ("failed", yesterday_late),
        ("sending", utcnow()),
        ("pending", yesterday_late),
    ]
    async with runtime.sessions() as session, session.begin():
        for row, (status, at) in zip(rows, outcomes, strict=True):
            await session.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id == row.id)
                .values(status=status, updated_at=at)
            )
        for campaign, status, at in (
            (sent_yesterday, "sent", yesterday_late),
            (failed_today, "failed", utcnow()),
            (sent_today, "sent", today),
        ):
            await session.execute(
                update(Campaign)
                .where(Campaign.id == campaign["id"])
                .values(status=status, updated_at=at)
            )

    response = await client.get("/stats")

    assert response.status_code == 200
    assert response.json() == {
        "date": today.date().isoformat(),
        "campaigns_sent_today": 1,
        "messages_sent_today": 2,
        "messages_failed_today": 1,
        "failure_rate": 0.3333,
        "messages_pending": 1,
    }


async def test_stats_follow_the_pipeline(client, runtime, make_customer, make_campaign):
    await runtime.start(PIPELINE)
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, count=4)
    await finished(client, campaign_id, "sent")

    body = (await client.get("/stats")).json()

    assert (body["campaigns_sent_today"], body["messages_sent_today"]) == (1, 4)
    assert (body["messages_failed_today"], body["failure_rate"]) == (0, 0.0)
    assert body["messages_pending"] == 0


# --- /ready --------------------------------------------------------------------------------


async def test_ready_is_503_when_the_database_is_unreachable(tmp_path):
    settings = Settings(
        database_url=UNREACHABLE_DATABASE,
        amqp_url=None,
        web_dist_dir=tmp_path,
        _env_file=None,  # type: ignore[call-arg]
    )
    async with app_client(settings) as client:
        response = await client.get("/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["queue"] == "ok"
    assert body["checks"]["database"].startswith("unavailable: ")


async def test_ready_is_503_when_the_queue_is_unreachable(settings):
    async with app_client(settings.model_copy(update={"amqp_url": UNREACHABLE_BROKER})) as client:
        response = await client.get("/ready")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "queue": "unavailable: broker unreachable"},
    }
