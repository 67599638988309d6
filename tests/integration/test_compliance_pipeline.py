"""Compliance is enforced by the pipeline at the moment of sending: opted-out customers
are left out of sends and refused at the claim, messages wait for their recipient's send
window, and nothing goes out after a campaign's expires_at. The worker runs against a
recording provider; state is read back from the database."""

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from campaign_dispatch import metrics
from campaign_dispatch.background import Role
from campaign_dispatch.models import CampaignMessageCount, ConsentEvent, MessageAttempt
from campaign_dispatch.providers import SendRequest, SendResult
from campaign_dispatch.providers.registry import build_webhook_handlers
from campaign_dispatch.statuses import ProviderOutcome
from campaign_dispatch.worker import processor
from tests.pipeline_helpers import eventually, messages

PIPELINE = {Role.RELAY, Role.WORKER, Role.RECOVERY}


class RecordingSender:
    """Accepts every send except to the numbers in `answers`; notes when each went out."""

    name = "recording"

    def __init__(self, answers: dict[str, SendResult] | None = None) -> None:
        self.answers = answers or {}
        self.sent: list[tuple[str, datetime]] = []  # (phone, when), accepted or not

    async def send(self, request: SendRequest) -> SendResult:
        self.sent.append((request.to, datetime.now(UTC).replace(tzinfo=None)))
        return self.answers.get(request.to) or SendResult.accepted(f"pm-{request.message_id}")

    async def aclose(self) -> None:
        return None

    def phones(self) -> set[str]:
        return {phone for phone, _ in self.sent}


async def start(runtime, sender: RecordingSender | None = None, **settings) -> RecordingSender:
    runtime.settings = runtime.settings.model_copy(
        update={"retry_base_delay_ms": 1, "auto_pause_failure_rate": 1.0, **settings}
    )
    sender = sender or RecordingSender()
    runtime.sender = sender
    await runtime.start(PIPELINE)
    return sender


async def detail(client, campaign_id: int) -> dict:
    return (await client.get(f"/campaigns/{campaign_id}")).json()


async def finished(client, campaign_id: int, timeout: float = 15) -> dict:
    async def check():
        body = await detail(client, campaign_id)
        return body["status"] in {"sent", "failed", "cancelled"} and body

    return await eventually(check, timeout)


async def send(client, campaign_id: int, **audience) -> dict:
    response = await client.post(f"/campaigns/{campaign_id}/send", json=audience)
    assert response.status_code == 202, response.text
    return response.json()


# --- opt-out ---------------------------------------------------------------------------


async def test_a_send_leaves_opted_out_customers_out(client, runtime, make_customer, make_campaign):
    sender = await start(runtime)
    kept = await make_customer(location="Nairobi")
    gone = await make_customer(location="Nairobi")
    assert (await client.post(f"/customers/{gone['id']}/opt-out")).status_code == 200

    by_ids = await make_campaign()
    answer = await send(client, by_ids["id"], customer_ids=[kept["id"], gone["id"]])
    assert (answer["messages_queued"], answer["skipped_opted_out"]) == (1, 1)
    by_segment = await make_campaign()
    answer = await send(client, by_segment["id"], segment={"location": "nairobi"})
    assert (answer["messages_queued"], answer["skipped_opted_out"]) == (1, 1)
    stored = await make_campaign(customer_ids=[kept["id"], gone["id"]])
    answer = await send(client, stored["id"])
    assert (answer["messages_queued"], answer["skipped_opted_out"]) == (1, 1)

    for campaign in (by_ids, by_segment, stored):
        assert (await finished(client, campaign["id"]))["status"] == "sent"
        rows = await messages(runtime, campaign["id"])
        assert [m.customer_id for m in rows] == [kept["id"]]
    assert sender.phones() == {kept["phone"]}


async def test_a_send_to_nobody_but_opted_out_customers_is_refused(
    client, runtime, make_customer, make_campaign
):
    customer = await make_customer()
    await client.post(f"/customers/{customer['id']}/opt-out")
    campaign = await make_campaign()
    response = await client.post(
        f"/campaigns/{campaign['id']}/send", json={"customer_ids": [customer["id"]]}
    )
    assert response.status_code == 422, response.text
    assert "opted out" in response.json()["error"]["message"]
    assert (await detail(client, campaign["id"]))["status"] == "draft"


async def test_a_customer_who_opts_out_after_the_send_is_never_attempted(
    client, runtime, make_customer, make_campaign
):
    # Queued first, with no worker running; the opt-out lands before any claim.
    customers = [await make_customer() for _ in range(3)]
    campaign = await make_campaign()
    await send(client, campaign["id"], customer_ids=[c["id"] for c in customers])
    late = customers[1]
    assert (await client.post(f"/customers/{late['id']}/opt-out")).status_code == 200

    sender = await start(runtime)
    body = await finished(client, campaign["id"])
    assert body["status"] == "sent"
    assert (body["stats"]["sent"], body["stats"]["failed"]) == (2, 1)
    assert late["phone"] not in sender.phones()
    (refused,) = [m for m in await messages(runtime, campaign["id"]) if m.customer_id == late["id"]]
    assert (refused.status, refused.error_code) == ("failed", "OPTED_OUT")
    assert "opted out" in refused.last_error
    async with runtime.sessions() as session:
        tried = await session.scalars(
            select(MessageAttempt).where(MessageAttempt.message_id == refused.id)
        )
        assert tried.all() == []  # never attempted


async def test_a_providers_opted_out_answer_opts_the_customer_out(
    client, runtime, make_customer, make_campaign
):
    customer, other = await make_customer(), await make_customer()
    refusal = SendResult(ProviderOutcome.OPTED_OUT, code="21610", detail="unsubscribed recipient")
    await start(runtime, RecordingSender({customer["phone"]: refusal}))
    campaign = await make_campaign()
    await send(client, campaign["id"], customer_ids=[customer["id"], other["id"]])
    await finished(client, campaign["id"])

    async def opted_out():
        body = (await client.get(f"/customers/{customer['id']}")).json()
        return body["opted_out_at"] is not None and body

    body = await eventually(opted_out)
    assert body["consent_history"][0]["source"] == "provider"
    assert "unsubscribed" in body["consent_history"][0]["detail"]
    assert (await client.get(f"/customers/{other['id']}")).json()["opted_out_at"] is None
    async with runtime.sessions() as session:
        events = await session.scalars(select(ConsentEvent))
        assert [(e.customer_id, e.opted_out) for e in events.all()] == [(customer["id"], True)]
    # The next send leaves them out.
    again = await make_campaign()
    answer = await send(client, again["id"], customer_ids=[customer["id"], other["id"]])
    assert answer["skipped_opted_out"] == 1


# --- quiet hours -----------------------------------------------------------------------


def _clock(at: datetime) -> str:
    return at.strftime("%H:%M")


async def test_messages_wait_for_each_recipients_window_then_go(
    client, runtime, make_customer, make_campaign, monkeypatch: pytest.MonkeyPatch
):
    utc = await make_customer(timezone="UTC")
    kolkata = await make_customer(timezone="Asia/Kolkata")  # +05:30
    new_york = await make_customer(timezone="America/New_York")  # -05:00 or -04:00
    sender = await start(runtime)
    held_before = metrics.MESSAGES_HELD._value.get()
    # The window opens at the start of this minute on the UTC customer's clock. The
    # worker's clock is set three seconds before that: to the worker, the window is shut
    # and opens three seconds from now. (The relay's clock, which publishes a held
    # message when its window opens, is not moved: it publishes at once, and the worker
    # holds it again until its own clock reaches the opening.)
    real = datetime.now(UTC).replace(tzinfo=None)
    opening = real.replace(second=0, microsecond=0)
    behind = real - opening + timedelta(seconds=3)
    monkeypatch.setattr(
        processor, "utcnow", lambda: datetime.now(UTC).replace(tzinfo=None) - behind
    )
    worker_now = real - behind
    window = {"start": _clock(opening), "end": _clock(opening + timedelta(hours=1))}
    campaign = await make_campaign(send_window=window)
    await send(client, campaign["id"], customer_ids=[utc["id"], kolkata["id"], new_york["id"]])

    def opens_for(zone: str) -> datetime:
        local = worker_now.replace(tzinfo=UTC).astimezone(ZoneInfo(zone))
        start = local.replace(hour=opening.hour, minute=opening.minute, second=0, microsecond=0)
        if start <= local:
            start += timedelta(days=1)
        return start.astimezone(UTC).replace(tzinfo=None)

    expected = {c["id"]: opens_for(c["timezone"]) for c in (kolkata, new_york)}

    async def two_held_one_sent():
        body = await detail(client, campaign["id"])
        return body["waiting_for_window"] == 2 and body["stats"]["sent"] == 1 and body

    body = await eventually(two_held_one_sent, timeout=20)
    assert body["send_window"] == window
    assert body["stats"]["pending"] == 2
    assert body["next_window_opens_at"] == min(expected.values()).isoformat() + "Z"
    assert sender.phones() == {utc["phone"]}
    (when,) = [at for phone, at in sender.sent if phone == utc["phone"]]
    assert when - behind >= opening  # inside its window, on the worker's clock
    # The UTC customer's message was held too, until the worker's clock reached it.
    assert metrics.MESSAGES_HELD._value.get() - held_before >= 3

    rows = {m.customer_id: m for m in await messages(runtime, campaign["id"])}
    assert {cid: rows[cid].window_opens_at for cid in expected} == expected
    assert {rows[cid].status for cid in expected} == {"pending"}
    assert {m.retry_count for m in rows.values()} == {0}  # waiting was no attempt
    assert rows[utc["id"]].window_opens_at is None
    async with runtime.sessions() as session:
        attempts = await session.scalars(select(MessageAttempt))
        assert [a.outcome for a in attempts.all()] == ["sent"]


async def test_a_message_inside_its_window_goes_at_once(
    client, runtime, make_customer, make_campaign
):
    now = datetime.now(UTC)
    window = {  # open now on UTC clocks, whatever the hour: it wraps past midnight
        "start": _clock(now - timedelta(hours=1)),
        "end": _clock(now + timedelta(hours=1)),
    }
    customer = await make_customer(timezone="UTC")
    sender = await start(runtime)
    campaign = await make_campaign(send_window=window)
    await send(client, campaign["id"], customer_ids=[customer["id"]])
    assert (await finished(client, campaign["id"]))["status"] == "sent"
    assert sender.phones() == {customer["phone"]}


async def test_the_default_window_applies_to_campaigns_without_one(
    client, runtime, make_customer, make_campaign
):
    now = datetime.now(UTC)
    shut = f"{_clock(now + timedelta(hours=2))}-{_clock(now + timedelta(hours=3))}"
    customer = await make_customer(timezone="UTC")
    sender = await start(runtime, default_send_window=shut)
    campaign = await make_campaign()
    await send(client, campaign["id"], customer_ids=[customer["id"]])

    async def held():
        return (await detail(client, campaign["id"]))["waiting_for_window"] == 1

    await eventually(held)
    assert sender.sent == []


# --- validity --------------------------------------------------------------------------


async def test_nothing_is_sent_after_expires_at_and_the_campaign_completes(
    client, runtime, make_customer, make_campaign
):
    now = datetime.now(UTC)
    expires_at = now + timedelta(seconds=3)
    went, retrying, windowed = [await make_customer(timezone="UTC") for _ in range(3)]
    failing = SendResult(ProviderOutcome.RETRYABLE, code="503", detail="try later")
    # A retry a minute away; a window that opens after the campaign expires.
    sender = await start(
        runtime,
        RecordingSender({retrying["phone"]: failing}),
        retry_base_delay_ms=60_000,
        lease_seconds=2.0,
    )
    window = {"start": _clock(now + timedelta(hours=2)), "end": _clock(now + timedelta(hours=3))}
    first = await make_campaign(expires_at=expires_at.isoformat())
    second = await make_campaign(expires_at=expires_at.isoformat(), send_window=window)
    await send(client, first["id"], customer_ids=[went["id"], retrying["id"]])
    await send(client, second["id"], customer_ids=[windowed["id"]])

    one = await finished(client, first["id"], timeout=20)
    two = await finished(client, second["id"], timeout=20)
    assert (one["status"], one["stats"]["sent"], one["stats"]["failed"]) == ("sent", 1, 1)
    assert (two["status"], two["stats"]["failed"]) == ("failed", 1)
    codes = {
        m.customer_id: (m.status, m.error_code)
        for cid in (first["id"], second["id"])
        for m in await messages(runtime, cid)
    }
    assert codes == {
        went["id"]: ("sent", None),
        retrying["id"]: ("failed", "EXPIRED"),
        windowed["id"]: ("failed", "EXPIRED"),
    }
    assert windowed["phone"] not in sender.phones()
    deadline = expires_at.replace(tzinfo=None)
    assert all(at < deadline for _, at in sender.sent), sender.sent
    assert [p for p, _ in sender.sent].count(retrying["phone"]) == 1  # the retry never ran


async def test_a_paused_campaign_expires_and_completes(
    client, runtime, make_customer, make_campaign
):
    customers = [await make_customer() for _ in range(3)]
    expires_at = datetime.now(UTC) + timedelta(seconds=2)
    campaign = await make_campaign(expires_at=expires_at.isoformat())
    await send(client, campaign["id"], customer_ids=[c["id"] for c in customers])
    assert (await client.post(f"/campaigns/{campaign['id']}/pause")).status_code == 200
    sender = await start(runtime, lease_seconds=2.0)

    body = await finished(client, campaign["id"], timeout=20)
    assert body["status"] == "failed"
    assert body["stats"]["failed"] == 3 and body["pause_reason"] is None
    assert {m.error_code for m in await messages(runtime, campaign["id"])} == {"EXPIRED"}
    assert sender.sent == []


async def test_expiry_is_validated_and_an_expired_campaign_cannot_be_sent(
    client, runtime, make_customer, make_campaign
):
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    response = await client.post(
        "/campaigns",
        json={"name": "x", "channel": "sms", "base_template": "Hi", "expires_at": past},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == "expires_at"
    soon = datetime.now(UTC) + timedelta(seconds=1)
    campaign = await make_campaign(expires_at=soon.isoformat())
    customer = await make_customer()
    await asyncio.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.05)
    response = await client.post(
        f"/campaigns/{campaign['id']}/send", json={"customer_ids": [customer["id"]]}
    )
    assert response.status_code == 409, response.text
    assert "expired" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "window",
    [{"start": "08:00", "end": "08:00"}, {"start": "8:00", "end": "20:00"}, {"start": "24:00"}],
)
async def test_a_bad_send_window_is_422(client, make_campaign, window):
    response = await client.post(
        "/campaigns",
        json={"name": "x", "channel": "sms", "base_template": "Hi", "send_window": window},
    )
    assert response.status_code == 422, response.text


async def test_an_expired_campaign_cannot_be_retried(client, runtime, make_customer, make_campaign):
    customer = await make_customer()
    failing = SendResult(ProviderOutcome.RETRYABLE, code="503", detail="down")
    await start(runtime, RecordingSender({customer["phone"]: failing}), max_retries=0)
    expires_at = datetime.now(UTC) + timedelta(seconds=2)
    campaign = await make_campaign(expires_at=expires_at.isoformat())
    await send(client, campaign["id"], customer_ids=[customer["id"]])
    assert (await finished(client, campaign["id"]))["status"] == "failed"
    await asyncio.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()) + 0.05)
    response = await client.post(f"/campaigns/{campaign['id']}/retry-failed")
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "CAMPAIGN_NOT_RETRYABLE"
    assert "expired" in response.json()["error"]["message"]


async def test_cancelling_a_campaign_clears_its_waiting_count(
    client, runtime, make_customer, make_campaign
):
    now = datetime.now(UTC)
    window = {"start": _clock(now + timedelta(hours=2)), "end": _clock(now + timedelta(hours=3))}
    customers = [await make_customer(timezone="UTC") for _ in range(3)]
    sender = await start(runtime)
    campaign = await make_campaign(send_window=window)
    await send(client, campaign["id"], customer_ids=[c["id"] for c in customers])

    async def held():
        return (await detail(client, campaign["id"]))["waiting_for_window"] == 3

    await eventually(held)
    response = await client.post(f"/campaigns/{campaign['id']}/cancel")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["waiting_for_window"], body["next_window_opens_at"]) == (0, None)
    assert body["stats"]["cancelled"] == 3
    async with runtime.sessions() as session:
        counted = await session.scalars(
            select(CampaignMessageCount.status).where(
                CampaignMessageCount.campaign_id == campaign["id"], CampaignMessageCount.n != 0
            )
        )
        assert set(counted.all()) == {"cancelled"}
    assert sender.sent == []


class GatedSender(RecordingSender):
    """Holds its first send until `gate` is set, so the campaign is caught in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()
        self.gate = asyncio.Event()

    async def send(self, request: SendRequest) -> SendResult:
        self.started.set()
        await self.gate.wait()
        return await super().send(request)


async def test_a_stop_that_arrives_mid_campaign_stops_that_customers_queued_message(
    client, runtime, make_customer, make_campaign
):
    first, second, stopping = [await make_customer() for _ in range(3)]
    sender = GatedSender()
    runtime.settings = runtime.settings.model_copy(update={"at_callback_token": "tok"})
    runtime.resources.webhook_handlers = build_webhook_handlers(runtime.settings)
    # One lane, one message at a time: while the first is with the provider, the others
    # wait in the queue, unclaimed.
    await start(runtime, sender, worker_concurrency=1, worker_batch_size=1)
    campaign = await make_campaign()
    await send(client, campaign["id"], customer_ids=[first["id"], second["id"], stopping["id"]])
    await asyncio.wait_for(sender.started.wait(), 10)

    reply = urlencode(
        {"from": stopping["phone"], "to": "12345", "text": "STOP", "id": "in-1", "date": "x"}
    )
    response = await client.post(
        "/webhooks/africastalking/inbound?token=tok",
        content=reply,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    assert (await client.get(f"/customers/{stopping['id']}")).json()["opted_out_at"] is not None
    sender.gate.set()

    body = await finished(client, campaign["id"])
    assert (body["stats"]["sent"], body["stats"]["failed"]) == (2, 1)
    assert sender.phones() == {first["phone"], second["phone"]}
    rows = {m.customer_id: m for m in await messages(runtime, campaign["id"])}
    assert (rows[stopping["id"]].status, rows[stopping["id"]].error_code) == ("failed", "OPTED_OUT")
