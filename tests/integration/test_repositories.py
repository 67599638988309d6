"""Repositories against SQLite and PostgreSQL, below the HTTP layer."""

from typing import Any

import pytest

from campaign_dispatch.models import Campaign, Customer, OutboundMessage
from campaign_dispatch.models.base import MAX_ID
from campaign_dispatch.repositories import campaigns, customers, messages
from campaign_dispatch.repositories.pagination import InvalidCursor, PageRequest
from tests.harness import Process


async def add_customers(runtime: Process, count: int) -> list[int]:
    async with runtime.sessions() as session, session.begin():
        rows = [Customer(phone=f"+25476{i:07d}", first_name=f"C{i}") for i in range(count)]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


async def add_campaigns(runtime: Process, specs: list[dict[str, Any]]) -> list[int]:
    async with runtime.sessions() as session, session.begin():
        rows = [
            Campaign(**{"name": f"C{i}", "channel": "sms", "base_template": "Hi", **spec})
            for i, spec in enumerate(specs)
        ]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


async def test_get_out_of_range_ids_is_none_without_touching_the_driver(runtime):
    async with runtime.sessions() as session, session.begin():
        for repo in (campaigns, customers):
            for wrong in (0, -1, MAX_ID + 1, -(2**70)):
                assert await repo.get(session, wrong) is None


async def test_missing_ids_lists_unknown_ids_ascending(runtime):
    known = await add_customers(runtime, 3)
    unknown = [max(known) + 50, max(known) + 7]

    async with runtime.sessions() as session, session.begin():
        missing = await customers.missing_ids(session, [*unknown, *known])
        none_missing = await customers.missing_ids(session, known)

    assert missing == sorted(unknown)
    assert none_missing == []


async def test_existing_phones(runtime):
    await add_customers(runtime, 2)

    async with runtime.sessions() as session, session.begin():
        found = await customers.existing_phones(session, ["+254760000001", "+254769999999"])
        empty = await customers.existing_phones(session, [])

    assert found == {"+254760000001"}
    assert empty == set()


async def test_message_stats_and_audience(runtime):
    (campaign_id, other_id) = await add_campaigns(runtime, [{}, {}])
    people = await add_customers(runtime, 4)
    async with runtime.sessions() as session, session.begin():
        session.add_all(
            OutboundMessage(campaign_id=campaign_id, customer_id=c, status=s)
            for c, s in zip(people, ["pending", "sent", "sent", "failed"], strict=True)
        )
        await campaigns.set_audience(session, campaign_id, people[:3])

    async with runtime.sessions() as session, session.begin():
        stats = await campaigns.message_stats(session, campaign_id)
        other_stats = await campaigns.message_stats(session, other_id)
        audience = await campaigns.audience_size(session, campaign_id)

    assert stats == {"pending": 1, "sent": 2, "failed": 1}
    assert other_stats == {}
    assert audience == 3


async def test_transition_only_from_the_given_states(runtime):
    (draft_id,) = await add_campaigns(runtime, [{"status": "draft"}])

    async with runtime.sessions() as session, session.begin():
        moved = await campaigns.transition(session, draft_id, ["draft", "scheduled"], "sending")
        again = await campaigns.transition(session, draft_id, ["draft", "scheduled"], "sending")
        unknown = await campaigns.transition(session, draft_id + 1000, ["draft"], "sending")

    async with runtime.sessions() as session:
        stored = await campaigns.get(session, draft_id)
    assert (moved, again, unknown) == (True, False, False)
    assert stored is not None
    assert stored.status == "sending"


async def test_list_page_filters_and_bounds_the_snapshot(runtime):
    ids = await add_campaigns(
        runtime,
        [{"status": "draft"}, {"status": "sent", "channel": "whatsapp"}, {"status": "draft"}],
    )

    async with runtime.sessions() as session, session.begin():
        drafts = await campaigns.list_page(session, PageRequest(page_size=1), None, "draft")
        whatsapp = await campaigns.list_page(session, PageRequest(), "whatsapp", None)
        pinned = await campaigns.list_page(session, PageRequest(snapshot_id=ids[1]), None, None)
        huge = await campaigns.list_page(session, PageRequest(snapshot_id=10**30), None, None)

    assert [c.id for c in drafts.items] == [ids[2]]
    assert drafts.total_count == 2
    assert drafts.next_cursor is not None
    assert [c.id for c in whatsapp.items] == [ids[1]]
    assert [c.id for c in pinned.items] == [ids[1], ids[0]]
    assert pinned.snapshot_id == ids[1]
    assert [c.id for c in huge.items] == ids[::-1]
    assert huge.snapshot_id == MAX_ID


async def test_cursor_page_continues_after_the_last_row(runtime):
    ids = await add_campaigns(runtime, [{} for _ in range(5)])

    async with runtime.sessions() as session, session.begin():
        first = await campaigns.list_page(session, PageRequest(page_size=2), None, None)
        assert first.next_cursor is not None
        second = await campaigns.list_page(
            session, PageRequest(page_size=2, cursor=first.next_cursor), None, None
        )
        assert second.next_cursor is not None
        third = await campaigns.list_page(
            session, PageRequest(page_size=2, cursor=second.next_cursor), None, None
        )

    assert [c.id for c in first.items + second.items + third.items] == ids[::-1]
    assert [r.page for r in (first, second, third)] == [1, 2, 3]
    assert third.next_cursor is None


async def test_messages_list_page_stays_in_its_campaign(runtime):
    first, second = await add_campaigns(runtime, [{}, {}])
    people = await add_customers(runtime, 3)
    async with runtime.sessions() as session, session.begin():
        session.add_all(OutboundMessage(campaign_id=first, customer_id=c) for c in people)
        session.add_all(OutboundMessage(campaign_id=second, customer_id=c) for c in people[:2])

    async with runtime.sessions() as session, session.begin():
        page = await messages.list_page(session, first, PageRequest(page_size=2), None)
        assert page.next_cursor is not None
        rest = await messages.list_page(
            session, first, PageRequest(page_size=2, cursor=page.next_cursor), None
        )
        with pytest.raises(InvalidCursor):
            await messages.list_page(
                session, second, PageRequest(page_size=2, cursor=page.next_cursor), None
            )

    assert {m.campaign_id for m in [*page.items, *rest.items]} == {first}
    assert sorted(m.customer_id for m in [*page.items, *rest.items]) == sorted(people)
    assert page.total_count == 3
