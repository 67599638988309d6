"""Helpers the RabbitMQ tests share: a worker process, a campaign sent through the API."""

from campaign_dispatch.background import Role
from campaign_dispatch.providers import MockSender
from tests.harness import Process


async def start_worker(settings, sender=None):
    runtime = Process.create(settings, sender=sender or MockSender())
    await runtime.start({Role.WORKER, Role.RECOVERY})
    return runtime


async def create_and_send(client, count, template="Hi {first_name}!"):
    ids = []
    for i in range(count):
        response = await client.post(
            "/customers", json={"phone": f"+2547{i:08d}", "first_name": f"N{i}"}
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    response = await client.post(
        "/campaigns", json={"name": "c", "channel": "sms", "base_template": template}
    )
    campaign_id = response.json()["id"]
    response = await client.post(f"/campaigns/{campaign_id}/send", json={"customer_ids": ids})
    assert response.status_code == 202, response.text
    return campaign_id


async def campaign_status(client, campaign_id):
    body = (await client.get(f"/campaigns/{campaign_id}")).json()
    return body["status"], body["stats"]
