"""Each provider outcome class has one behaviour, the same for every provider: the worker
against a scripted provider, recorded state read back from the database."""

import asyncio
from collections import Counter
from collections.abc import Callable

from sqlalchemy import select

from campaign_dispatch.background import Role
from campaign_dispatch.models import MessageAttempt
from campaign_dispatch.providers import SendRequest, SendResult
from campaign_dispatch.statuses import ProviderOutcome
from tests.pipeline_helpers import eventually, messages, send_to_new_customers

PIPELINE = {Role.RELAY, Role.WORKER}
Script = Callable[[SendRequest, int], SendResult]  # (request, this message's call number)


class ScriptedSender:
    """Answers each call as `script` says; accepted calls are counted per message."""

    name = "scripted"

    def __init__(self, script: Script) -> None:
        self.script = script
        self.calls: Counter[int] = Counter()
        self.accepted: Counter[int] = Counter()

    async def send(self, request: SendRequest) -> SendResult:
        self.calls[request.message_id] += 1
        answer = self.script(request, self.calls[request.message_id])
        if answer.outcome == ProviderOutcome.ACCEPTED:
            self.accepted[request.message_id] += 1
        return answer

    async def aclose(self) -> None:
        return None


def accept(request: SendRequest, _call: int) -> SendResult:
    return SendResult.accepted(f"pm-{request.message_id}", "101")


async def start(runtime, script: Script, **settings) -> ScriptedSender:
    runtime.settings = runtime.settings.model_copy(
        update={"retry_base_delay_ms": 1, "auto_pause_failure_rate": 1.0, **settings}
    )
    sender = ScriptedSender(script)
    runtime.sender = sender
    await runtime.start(PIPELINE)
    return sender


async def campaign_status(client, campaign_id: int, *wanted: str) -> dict:
    async def check():
        body = (await client.get(f"/campaigns/{campaign_id}")).json()
        return body["status"] in wanted and body

    return await eventually(check)


async def attempts(runtime, message_id: int) -> list[MessageAttempt]:
    async with runtime.sessions() as session:
        found = await session.scalars(
            select(MessageAttempt)
            .where(MessageAttempt.message_id == message_id)
            .order_by(MessageAttempt.attempt)
        )
        return list(found.all())


async def test_accepted_stores_the_provider_and_its_id(
    client, runtime, make_customer, make_campaign
):
    await start(runtime, accept)
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 2)
    await campaign_status(client, campaign_id, "sent")

    for message in await messages(runtime, campaign_id):
        assert (message.status, message.provider) == ("sent", "scripted")
        assert message.provider_message_id == f"pm-{message.id}"
        (attempt,) = await attempts(runtime, message.id)
        assert attempt.provider_message_id == f"pm-{message.id}"
    listed = (await client.get(f"/campaigns/{campaign_id}/messages")).json()["data"]
    assert {m["provider_message_id"] for m in listed} == {f"pm-{m['id']}" for m in listed}
    assert {m["delivery_status"] for m in listed} == {None}


async def test_throttled_answers_are_tried_again_without_using_up_retries(
    client, runtime, make_customer, make_campaign
):
    def throttle_twice(request: SendRequest, call: int) -> SendResult:
        if call <= 2:
            return SendResult(ProviderOutcome.THROTTLED, code="429", retry_after=0.05)
        return accept(request, call)

    # MAX_RETRIES=0: had a throttled answer counted as a retry, the message would fail.
    sender = await start(runtime, throttle_twice, max_retries=0)
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 1)
    await campaign_status(client, campaign_id, "sent", "failed")

    (message,) = await messages(runtime, campaign_id)
    assert message.status == "sent"
    assert (message.retry_count, message.series_start) == (2, 2)
    history = await attempts(runtime, message.id)
    assert [(a.outcome, a.error_code) for a in history] == [
        ("retry", "PROVIDER_THROTTLED"),
        ("retry", "PROVIDER_THROTTLED"),
        ("sent", None),
    ]
    assert sender.calls[message.id] == 3


async def test_terminal_and_opted_out_answers_fail_at_once(
    client, runtime, make_customer, make_campaign
):
    def refuse(request: SendRequest, call: int) -> SendResult:
        if request.message_id % 2:
            return SendResult(ProviderOutcome.TERMINAL, code="403", detail="InvalidPhoneNumber")
        return SendResult(ProviderOutcome.OPTED_OUT, code="21610", detail="unsubscribed")

    sender = await start(runtime, refuse, max_retries=3)
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 4)
    await campaign_status(client, campaign_id, "failed")

    for message in await messages(runtime, campaign_id):
        expected = "PROVIDER_REJECTED" if message.id % 2 else "OPTED_OUT"
        assert (message.status, message.error_code, message.retry_count) == ("failed", expected, 0)
        assert sender.calls[message.id] == 1
        assert message.last_error.startswith("scripted provider: ")
    # Trying again cannot help either: retry-failed leaves them failed.
    retried = await client.post(f"/campaigns/{campaign_id}/retry-failed")
    assert retried.status_code == 202, retried.text
    assert retried.json()["messages_queued"] == 0


async def test_an_account_error_pauses_the_campaign_and_resume_sends_each_once(
    client, runtime, make_customer, make_campaign
):
    broken = asyncio.Event()
    broken.set()

    def account(request: SendRequest, call: int) -> SendResult:
        if broken.is_set():
            return SendResult(ProviderOutcome.ACCOUNT, code="405", detail="InsufficientBalance")
        return accept(request, call)

    sender = await start(runtime, account, worker_concurrency=2, worker_batch_size=1)
    campaign_id = await send_to_new_customers(client, make_customer, make_campaign, 6)
    paused = await campaign_status(client, campaign_id, "paused")
    assert "InsufficientBalance" in paused["pause_reason"]
    await asyncio.sleep(0.5)  # nothing more is tried while paused
    tried = sum(sender.calls.values())
    await asyncio.sleep(0.5)
    assert sum(sender.calls.values()) == tried
    for message in await messages(runtime, campaign_id):
        assert message.status == "pending"
        assert message.retry_count == 0  # no attempt counted
        assert await attempts(runtime, message.id) == []

    broken.clear()  # the balance is topped up
    resumed = await client.post(f"/campaigns/{campaign_id}/resume")
    assert resumed.status_code == 200, resumed.text
    body = await campaign_status(client, campaign_id, "sent")
    assert body["stats"]["sent"] == 6
    assert set(sender.accepted.values()) == {1}  # each message sent once
    assert len(sender.accepted) == 6


async def test_a_whatsapp_template_goes_with_its_parameters_rendered(
    client, runtime, make_customer, make_campaign
):
    seen: list[SendRequest] = []

    def capture(request: SendRequest, call: int) -> SendResult:
        seen.append(request)
        return accept(request, call)

    await start(runtime, capture)
    customer = await make_customer(first_name="Wanjiru")
    template = {
        "name": "order_update",
        "language": "en_US",
        "body_params": ["{first_name}", "{preferred_product|your order}"],
    }
    campaign = await make_campaign(channel="whatsapp", whatsapp_template=template)
    assert campaign["whatsapp_template"] == template | {"content_sid": None}
    sent = await client.post(
        f"/campaigns/{campaign['id']}/send", json={"customer_ids": [customer["id"]]}
    )
    assert sent.status_code == 202, sent.text
    await campaign_status(client, campaign["id"], "sent")

    (request,) = seen
    assert request.template is not None
    assert (request.template.name, request.template.language) == ("order_update", "en_US")
    assert request.template.body_params[0] == "Wanjiru"
    assert len(request.template.body_params) == 2
    assert request.template.content_sid is None


async def test_a_whatsapp_template_is_refused_on_sms_and_with_a_bad_parameter(client):
    template = {"name": "order_update", "language": "en", "body_params": ["{first_name"]}
    body = {
        "name": "C",
        "channel": "whatsapp",
        "base_template": "Hi",
        "whatsapp_template": template,
    }
    bad_param = await client.post("/campaigns", json=body)
    assert bad_param.status_code == 422, bad_param.text
    template["body_params"] = ["{first_name}"]
    on_sms = await client.post("/campaigns", json={**body, "channel": "sms"})
    assert on_sms.status_code == 422, on_sms.text
    not_a_content_sid = {**template, "content_sid": "HX12"}
    bad_sid = await client.post("/campaigns", json={**body, "whatsapp_template": not_a_content_sid})
    assert bad_sid.status_code == 422, bad_sid.text
    assert "whatsapp_template.content_sid" in bad_sid.text
