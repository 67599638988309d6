"""The trigger-kept campaign_counts always agree with counting the campaigns."""

from sqlalchemy import delete, func, select, update

from campaign_dispatch.models import Campaign, CampaignCount


async def counts(runtime):
    async with runtime.sessions() as session:
        kept = {
            (c.channel, c.status): c.n
            for c in (await session.scalars(select(CampaignCount))).all()
            if c.n
        }
        rows = await session.execute(
            select(Campaign.channel, Campaign.status, func.count()).group_by(
                Campaign.channel, Campaign.status
            )
        )
        counted = {(channel, status): n for channel, status, n in rows.all()}
    return kept, counted


async def test_counts_follow_inserts_updates_and_deletes(client, runtime, make_campaign):
    for i in range(6):
        await make_campaign(channel="sms" if i % 2 else "whatsapp")
    await make_campaign(scheduled_at="2999-01-01T00:00:00Z")
    async with runtime.sessions() as session, session.begin():
        await session.execute(update(Campaign).where(Campaign.id <= 2).values(status="sent"))
        await session.execute(update(Campaign).where(Campaign.id == 3).values(channel="sms"))
        await session.execute(delete(Campaign).where(Campaign.id == 4))

    kept, counted = await counts(runtime)

    assert kept == counted
    assert sum(counted.values()) == 6
    listed = (await client.get("/campaigns", params={"status": "sent"})).json()["pagination"]
    assert listed["total_count"] == 2
    listed = (await client.get("/campaigns", params={"channel": "sms", "status": "draft"})).json()
    assert listed["pagination"]["total_count"] == counted.get(("sms", "draft"), 0)
