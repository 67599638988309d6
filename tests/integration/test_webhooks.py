"""Receipts and inbound messages through the webhook routes (Africa's Talking's handler:
a token in the URL), against messages a worker recorded."""

import asyncio
from urllib.parse import urlencode

from sqlalchemy import func, select

from campaign_dispatch.background import Role
from campaign_dispatch.clock import utcnow
from campaign_dispatch.models import EarlyReceipt, InboundMessage
from campaign_dispatch.providers import MockSender, SendRequest, SendResult
from campaign_dispatch.providers.mock_receipts import MockReceipts
from campaign_dispatch.providers.registry import build_webhook_handlers
from campaign_dispatch.repositories import receipts as receipts_repo
from tests.api_helpers import assert_error
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
