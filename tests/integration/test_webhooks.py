"""Receipts and inbound messages through the webhook routes (Africa's Talking's handler:
a token in the URL), against messages a worker recorded."""

import asyncio
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select, update

from campaign_dispatch.app import create_app
from campaign_dispatch.background import Role
from campaign_dispatch.clock import utcnow
from campaign_dispatch.models import Campaign, EarlyReceipt, InboundMessage, OutboundMessage
from campaign_dispatch.providers import MockSender, SendRequest, SendResult
from campaign_dispatch.providers.mock_receipts import MockReceipts
from campaign_dispatch.providers.registry import build_webhook_handlers
from campaign_dispatch.repositories import receipts as receipts_repo
from tests.api_helpers import assert_error
from tests.harness import Process
from tests.pipeline_helpers import eventually, messages, send_to_new_customers

PIPELINE = {Role.RELAY, Role.WORKER}
FORM = {"content-type": "application/x-www-form-urlencoded"}


class GatedAT:
    """Answers as Africa's Talking would (its name, ids ATX-<message id>), once let go."""

    name = "africastalking"

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()

    async def send(self, request: SendRequest) -> SendResult:
        await self.gate.wait()
        return SendResult.accepted(f"ATX-{request.message_id}", "101")

    async def aclose(self) -> None:
        return None


async def start(runtime, sender: GatedAT) -> None:
    runtime.settings = runtime.settings.model_copy(update={"at_callback_token": "s3cret"})
    runtime.resources.webhook_handlers = build_webhook_handlers(runtime.settings)
    runtime.sender = sender
    await runtime.start(PIPELINE)


async def receipt(client, provider_id: str, status: str, token: str | None = "s3cret"):
    query = f"?token={token}" if token is not None else ""
    body = urlencode({"id": provider_id, "status": status, "phoneNumber": "+254700000001"})
    return await client.post(
        f"/webhooks/africastalking/delivery{query}", content=body, headers=FORM
    )


async def sent_campaign(client, runtime, make_customer, make_campaign, count: int):
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, count)

    async def sent():
        body = (await client.get(f"/campaigns/{campaign_id}")).json()
        return body["status"] == "sent" and body

    await eventually(sent)
    return campaign_id, await messages(runtime, campaign_id)


async def stats(client, campaign_id: int) -> dict:
    return (await client.get(f"/campaigns/{campaign_id}")).json()["stats"]


async def test_receipts_move_forward_only_and_fill_the_funnel(
    client, runtime, make_customer, make_campaign
):
    await start(runtime, GatedAT())
    campaign_id, (first, second) = await sent_campaign(
        client, runtime, make_customer, make_campaign, 2
    )

    answer = await receipt(client, f"ATX-{first.id}", "Success")
    assert answer.status_code == 200, answer.text
    assert (await receipt(client, f"ATX-{second.id}", "Failed")).status_code == 200
    assert (await stats(client, campaign_id))["delivered"] == 1
    assert (await stats(client, campaign_id))["undelivered"] == 1

    # A duplicate, and older news than the message has, change nothing.
    assert (await receipt(client, f"ATX-{first.id}", "Success")).status_code == 200
    assert (await receipt(client, f"ATX-{first.id}", "Failed")).status_code == 200
    # A later delivered does move an undelivered one on.
    assert (await receipt(client, f"ATX-{second.id}", "Success")).status_code == 200
    rows = {m.id: m for m in await messages(runtime, campaign_id)}
    assert rows[first.id].delivery_status == "delivered"
    assert rows[first.id].delivered_at is not None
    assert rows[second.id].delivery_status == "delivered"
    final = await stats(client, campaign_id)
    assert (final["delivered"], final["undelivered"]) == (2, 0)
    listed = (await client.get(f"/campaigns/{campaign_id}/messages")).json()["data"]
    assert {m["delivery_status"] for m in listed} == {"delivered"}


async def test_a_receipt_without_the_token_is_refused_and_changes_nothing(
    client, runtime, make_customer, make_campaign
):
    await start(runtime, GatedAT())
    campaign_id, (message,) = await sent_campaign(client, runtime, make_customer, make_campaign, 1)

    for token in (None, "wrong", "s3cret-but-longer"):
        answer = await receipt(client, f"ATX-{message.id}", "Success", token)
        assert_error(answer, 401, "UNAUTHORIZED")
    (row,) = await messages(runtime, campaign_id)
    assert row.delivery_status is None
    assert (await stats(client, campaign_id))["delivered"] == 0


async def test_a_receipt_faster_than_our_commit_is_kept_and_applied(
    client, runtime, make_customer, make_campaign
):
    sender = GatedAT()
    sender.gate.clear()
    await start(runtime, sender)
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 1)
    (message,) = await eventually(lambda: messages(runtime, campaign_id))

    # The provider reports delivery before its answer to our send is recorded.
    assert (await receipt(client, f"ATX-{message.id}", "Success")).status_code == 200
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(EarlyReceipt)) == 1
    sender.gate.set()

    async def recorded():
        (row,) = await messages(runtime, campaign_id)
        return row.provider_message_id is not None

    await eventually(recorded)
    async with runtime.sessions.begin() as session:  # the recovery sweep's step
        applied, forgotten = await receipts_repo.apply_early(session, utcnow())
    assert (applied, forgotten) == (1, 0)
    (row,) = await messages(runtime, campaign_id)
    assert row.delivery_status == "delivered"
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(EarlyReceipt)) == 0


async def test_an_unknown_id_is_answered_200(client, runtime):
    await start(runtime, GatedAT())
    assert (await receipt(client, "ATX-never-sent", "Success")).status_code == 200


async def test_inbound_messages_are_stored_once(client, runtime):
    await start(runtime, GatedAT())
    form = urlencode(
        {
            "from": "+254700000001",
            "to": "12345",
            "text": "STOP",
            "id": "in-1",
            "date": "2026-12-02T10:00:00Z",
        }
    )
    for _ in range(2):  # the provider retries the same webhook
        answer = await client.post(
            "/webhooks/africastalking/inbound?token=s3cret", content=form, headers=FORM
        )
        assert answer.status_code == 200, answer.text
    async with runtime.sessions() as session:
        rows = (await session.scalars(select(InboundMessage))).all()
    assert [(r.provider, r.from_number, r.text) for r in rows] == [
        ("africastalking", "+254700000001", "STOP")
    ]


async def test_a_webhook_whose_provider_is_not_configured_is_404(client, runtime):
    await start(runtime, GatedAT())
    answer = await client.post("/webhooks/twilio/status", content=b"", headers=FORM)
    assert_error(answer, 404, "NOT_FOUND")


async def test_the_mocks_receipts_fill_the_funnel_through_the_same_ingest(
    client, runtime, make_customer, make_campaign
):
    receipts = MockReceipts(delivery_rate=0.5, delay_ms=200, seed=7)
    runtime.sender = MockSender(receipts=receipts)
    # With recovery: a receipt may still come before its message's outcome is recorded.
    await runtime.start({*PIPELINE, Role.RECOVERY})
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 20)

    async def reported():
        body = await stats(client, campaign_id)
        return body["delivered"] + body["undelivered"] == 20 and body

    body = await eventually(reported)
    assert 0 < body["delivered"] < 20  # both kinds, as the seeded rate gives them
    rows = await messages(runtime, campaign_id)
    assert sum(m.delivery_status == "delivered" for m in rows) == body["delivered"]
    assert {m.provider for m in rows} == {"mock"}


async def test_concurrent_receipts_are_committed_together_and_each_answered_after(
    client, runtime, make_customer, make_campaign, monkeypatch
):
    await start(runtime, GatedAT())
    campaign_id, rows = await sent_campaign(client, runtime, make_customer, make_campaign, 30)
    ingest = runtime.resources.webhook_ingest
    batches: list[int] = []
    apply = ingest._apply

    async def counted(batch):
        batches.append(len(batch))
        await asyncio.sleep(0.05)  # a slow commit: the others queue behind it
        await apply(batch)

    monkeypatch.setattr(ingest, "_apply", counted)
    answers = await asyncio.gather(*(receipt(client, f"ATX-{m.id}", "Success") for m in rows))
    assert [a.status_code for a in answers] == [200] * 30
    # Answered: committed. Fewer transactions than requests.
    assert (await stats(client, campaign_id))["delivered"] == 30
    assert sum(batches) == 30 and len(batches) < 30, batches


async def test_a_request_that_fails_its_batch_fails_alone(
    client, runtime, make_customer, make_campaign, monkeypatch
):
    await start(runtime, GatedAT())
    campaign_id, rows = await sent_campaign(client, runtime, make_customer, make_campaign, 6)
    poison = f"ATX-{rows[0].id}"
    apply_receipts = receipts_repo.apply_receipts

    async def failing(session, receipts, now, keep_early=True):
        if any(r.provider_message_id == poison for r in receipts):
            raise RuntimeError("this one cannot be stored")
        return await apply_receipts(session, receipts, now, keep_early)

    monkeypatch.setattr(receipts_repo, "apply_receipts", failing)
    ingest = runtime.resources.webhook_ingest
    batches: list[int] = []
    apply = ingest._apply

    async def slow(batch):
        batches.append(len(batch))
        await asyncio.sleep(0.05)
        await apply(batch)

    monkeypatch.setattr(ingest, "_apply", slow)
    answers = await asyncio.gather(*(receipt(client, f"ATX-{m.id}", "Success") for m in rows))
    codes = {m.id: a.status_code for m, a in zip(rows, answers, strict=True)}
    assert codes[rows[0].id] == 500  # the provider retries it
    assert [codes[m.id] for m in rows[1:]] == [200] * 5
    assert max(batches) > 1  # it did share a batch with others
    assert (await stats(client, campaign_id))["delivered"] == 5


async def test_a_client_gone_before_its_body_arrived_is_not_a_server_error(settings, runtime):
    await start(runtime, GatedAT())
    app = create_app(runtime.settings, runtime.resources)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/webhooks/africastalking/delivery",
        "raw_path": b"/webhooks/africastalking/delivery",
        "query_string": b"token=s3cret",
        "headers": [(b"host", b"test"), (b"content-type", b"application/x-www-form-urlencoded")],
        "client": ("127.0.0.1", 5000),
        "server": ("test", 80),
    }
    sent: list[dict] = []

    async def receive():
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start_message = next(m for m in sent if m["type"] == "http.response.start")
    assert start_message["status"] == 400
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert b'"BAD_REQUEST"' in body


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_an_early_receipt_kept_after_the_send_was_recorded_wakes_an_idle_recovery(
    client, runtime, settings, make_customer, make_campaign, monkeypatch
):
    """The race a fast provider makes: the webhook looks for the id before the worker's
    record commits and keeps the receipt after it did, while the recovery sweep (in
    another process) read its plan in between and went idle. The kept receipt's NOTIFY
    must wake it: otherwise it waits for the idle timer (RECOVERY_IDLE_SECONDS)."""
    runtime.settings = runtime.settings.model_copy(update={"at_callback_token": "s3cret"})
    runtime.resources.webhook_handlers = build_webhook_handlers(runtime.settings)
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 1)
    (message,) = await messages(runtime, campaign_id)
    async with runtime.sessions.begin() as session:  # sent, its answer not yet recorded
        await session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == message.id)
            .values(status="sent", provider="africastalking", enqueued_at=utcnow())
        )
        await session.execute(update(Campaign).values(status="sent"))

    idle = settings.model_copy(update={"recovery_idle_seconds": 120.0})
    recovery = Process.create(idle)
    await recovery.start({Role.RECOVERY})
    try:
        await asyncio.sleep(1.0)  # its first sweep done, its plan read: nothing in flight
        known = receipts_repo._known

        async def recorded_meanwhile(session, keys):
            found = await known(session, keys)  # not yet: the worker has not committed
            async with runtime.sessions.begin() as other:  # …and now it has
                await other.execute(
                    update(OutboundMessage)
                    .where(OutboundMessage.id == message.id)
                    .values(provider_message_id="ATX-early")
                )
            return found

        monkeypatch.setattr(receipts_repo, "_known", recorded_meanwhile)
        assert (await receipt(client, "ATX-early", "Success")).status_code == 200
        async with runtime.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(EarlyReceipt)) == 1

        async def delivered():
            (row,) = await messages(runtime, campaign_id)
            return row.delivery_status == "delivered"

        await eventually(delivered, timeout=12)  # the sweep's interval, not its idle timer
    finally:
        await recovery.close()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_receipt_whose_send_is_recorded_while_it_is_applied_is_not_lost(
    client, runtime, make_customer, make_campaign, monkeypatch
):
    """The worker's record commits after the receipt's UPDATE looked and before the
    webhook checks which ids exist: the receipt is neither early (the id is there now)
    nor old news (the message has no delivery status), so it must still be applied."""
    runtime.settings = runtime.settings.model_copy(update={"at_callback_token": "s3cret"})
    runtime.resources.webhook_handlers = build_webhook_handlers(runtime.settings)
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 1)
    (message,) = await messages(runtime, campaign_id)
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == message.id)
            .values(status="sent", provider="africastalking")
        )
    known = receipts_repo._known

    async def recorded_just_before(session, keys):
        async with runtime.sessions.begin() as other:  # the worker's record commits
            await other.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id == message.id)
                .values(provider_message_id="ATX-race")
            )
        return await known(session, keys)

    monkeypatch.setattr(receipts_repo, "_known", recorded_just_before)
    assert (await receipt(client, "ATX-race", "Success")).status_code == 200
    (row,) = await messages(runtime, campaign_id)
    assert row.delivery_status == "delivered"
    assert row.delivered_at is not None
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(EarlyReceipt)) == 0
