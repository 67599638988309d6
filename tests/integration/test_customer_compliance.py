"""Customers' phones as E.164 (create, import, search), their time zone, and opt-out:
the endpoints, the filter, the consent history, and record_consent set-wise."""

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select

from campaign_dispatch.clock import utcnow
from campaign_dispatch.models import ConsentEvent, Customer
from campaign_dispatch.repositories.consent import ConsentChange, record_consent
from campaign_dispatch.statuses import ConsentSource
from tests.api_helpers import assert_error


async def listed(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/customers", params={"page_size": 100, **params})
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def upload(client: httpx.AsyncClient, content: bytes) -> dict[str, Any]:
    response = await client.post(
        "/customers/import", files={"file": ("customers.csv", content, "text/csv")}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


# --- phones ---------------------------------------------------------------------------

FORMATS = [
    "+254712345678",
    "0712 345678",
    "0712345678",
    "254712345678",
    "+254 712-345-678",
    "(0712) 345-678",
    "+254 (712) 345 678",
]


@pytest.mark.parametrize("typed", FORMATS)
async def test_a_phone_in_any_format_is_stored_as_e164(client, typed):
    response = await client.post("/customers", json={"phone": typed})

    assert response.status_code == 201, response.text
    assert response.json()["phone"] == "+254712345678"


async def test_one_number_in_two_formats_is_a_duplicate(client):
    assert (await client.post("/customers", json={"phone": "0712345678"})).status_code == 201

    response = await client.post("/customers", json={"phone": "+254 712 345 678"})

    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert "+254712345678" in error["message"]
    assert error["details"] == [{"field": "phone", "message": "already exists"}]


INVALID = ["12345", "+1555010", "0712345", "abc", "+254712345678x", "0000000000", ""]


@pytest.mark.parametrize("typed", INVALID)
async def test_an_invalid_phone_is_422_naming_it(client, typed):
    response = await client.post("/customers", json={"phone": typed, "first_name": "Ann"})

    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert repr(typed) in error["message"]
    (detail,) = error["details"]
    assert detail["field"] == "phone"
    assert repr(typed) in detail["message"]
    assert await listed(client) == []


async def test_national_numbers_follow_default_region(client, runtime):
    runtime.settings = runtime.settings.model_copy(update={"default_region": "GB"})

    created = await client.post("/customers", json={"phone": "07911 123456"})
    refused = await client.post("/customers", json={"phone": "0712345678"})

    assert created.status_code == 201, created.text
    assert created.json()["phone"] == "+447911123456"
    assert "GB" in assert_error(refused, 422, "VALIDATION_ERROR")["message"]


async def test_import_stores_e164_and_reports_invalid_phones_per_row(client):
    csv = (
        b"phone,first_name\n"
        b"0712 345678,Ann\n"  # national
        b"+254-722-000-002,Bo\n"
        b"12345,Short\n"  # not a number
        b"254712345678,Ann again\n"  # Ann's number in another format: skipped
        b"+1555010,Nowhere\n"
        b"+44 7911 123456,Ed\n"
    )

    body = await upload(client, csv)

    assert (body["created"], body["skipped"], body["errors_not_shown"]) == (3, 1, 0)
    assert [e["row"] for e in body["errors"]] == [4, 6]
    assert body["errors"][0]["message"].startswith("phone: '12345' is not a valid phone number")
    assert "'+1555010'" in body["errors"][1]["message"]
    stored = {c["first_name"]: c["phone"] for c in await listed(client)}
    assert stored == {"Ann": "+254712345678", "Bo": "+254722000002", "Ed": "+447911123456"}


async def test_import_reports_a_bad_phone_and_a_bad_field_of_one_row_together(client):
    body = await upload(client, b"phone,first_name\n12345," + b"x" * 101 + b"\n")

    (error,) = body["errors"]
    assert error["message"].startswith("phone: '12345'")
    assert "first_name: " in error["message"]


@pytest.fixture
async def people(make_customer):
    return {
        "alice": await make_customer(phone="+254711000001", first_name="Alice"),
        "bob": await make_customer(phone="+254722000002", first_name="Bob"),
        "uk": await make_customer(phone="+447911123456", first_name="Ed"),
    }


SEARCHES = [
    ("0722 000 002", ["bob"]),
    ("0722000002", ["bob"]),
    ("+254-722-000-002", ["bob"]),
    ("254722000002", ["bob"]),
    ("(0711) 000-001", ["alice"]),
    ("+44 7911 123456", ["uk"]),
    ("722 000", ["bob"]),  # a part of a number, with a space
    ("722", ["bob"]),
    ("+2547", ["bob", "alice"]),
    ("0733 000 003", []),
]


@pytest.mark.parametrize(("q", "names"), SEARCHES)
async def test_search_finds_a_phone_typed_in_any_format(client, people, q, names):
    found = await listed(client, q=q)

    assert [c["id"] for c in found] == [people[n]["id"] for n in names]


# --- time zones -----------------------------------------------------------------------


async def test_a_timezone_is_kept_and_an_unknown_one_is_422_naming_it(client):
    created = await client.post(
        "/customers", json={"phone": "+254712345678", "timezone": "Africa/Nairobi"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["timezone"] == "Africa/Nairobi"

    for zone in ("Mars/Olympus_Mons", "africa/nairobi", "+03:00", ""):
        response = await client.post(
            "/customers", json={"phone": "+254722000002", "timezone": zone}
        )

        error = assert_error(response, 422, "VALIDATION_ERROR")
        assert [d["field"] for d in error["details"]] == ["timezone"], zone
        assert repr(zone) in error["message"], zone


async def test_import_takes_an_optional_timezone_column(client):
    csv = (
        b"phone,first_name,timezone\n"
        b"+254712345678,Ann,Africa/Nairobi\n"
        b"+254722000002,Bo,\n"
        b"+254733000003,Cy,Nowhere/Land\n"
    )

    body = await upload(client, csv)

    assert body["created"] == 2
    (error,) = body["errors"]
    assert error["row"] == 4
    assert error["message"].startswith("timezone: ")
    assert "'Nowhere/Land'" in error["message"]
    zones = {c["first_name"]: c["timezone"] for c in await listed(client)}
    assert zones == {"Ann": "Africa/Nairobi", "Bo": None}


# --- opt-out --------------------------------------------------------------------------


async def test_opt_out_and_back_in_with_history_newest_first(client, make_customer):
    alice = await make_customer()

    out = await client.post(f"/customers/{alice['id']}/opt-out")
    assert out.status_code == 200, out.text
    first = out.json()
    assert first["id"] == alice["id"]
    assert first["opted_out_at"] is not None and first["opted_out_at"].endswith("Z")

    again = (await client.post(f"/customers/{alice['id']}/opt-out")).json()
    assert again["opted_out_at"] == first["opted_out_at"]  # the first opt-out's time
    assert len(again["consent_history"]) == 1  # a repeat records nothing

    back = await client.post(f"/customers/{alice['id']}/opt-in")
    assert back.status_code == 200, back.text
    assert back.json()["opted_out_at"] is None
    assert (await client.post(f"/customers/{alice['id']}/opt-in")).status_code == 200

    detail = (await client.get(f"/customers/{alice['id']}")).json()
    assert detail["opted_out_at"] is None
    history = detail["consent_history"]
    assert [(e["opted_out"], e["source"], e["detail"]) for e in history] == [
        (False, "api", None),
        (True, "api", None),
    ]
    assert all(e["at"].endswith("Z") for e in history)
    assert history[0]["at"] >= history[1]["at"]


async def test_opt_out_of_an_unknown_customer_is_404(client):
    for action in ("opt-out", "opt-in"):
        for customer_id in ("424242", str(2**63 - 1)):
            response = await client.post(f"/customers/{customer_id}/{action}")

            error = assert_error(response, 404, "CUSTOMER_NOT_FOUND")
            assert customer_id in error["message"]


async def test_opt_out_with_a_bad_id_is_422(client):
    response = await client.post("/customers/01/opt-out")

    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["customer_id"]


async def test_the_opted_out_filter_combines_with_search_and_paging(client, make_customer):
    names = ["Amina", "Baraka", "Amani", "Chege", "Aziza"]
    made = [await make_customer(first_name=name) for name in names]
    for index in (0, 2, 3):
        assert (await client.post(f"/customers/{made[index]['id']}/opt-out")).status_code == 200

    def ids(rows: list[dict[str, Any]]) -> list[int]:
        return [c["id"] for c in rows]

    assert ids(await listed(client, opted_out="true")) == [made[i]["id"] for i in (3, 2, 0)]
    assert ids(await listed(client, opted_out="false")) == [made[i]["id"] for i in (4, 1)]
    assert ids(await listed(client, opted_out="true", q="am")) == [made[i]["id"] for i in (2, 0)]
    assert all(c["opted_out_at"] for c in await listed(client, opted_out="true"))
    assert len(await listed(client)) == 5

    first = (await client.get("/customers", params={"opted_out": "true", "page_size": 2})).json()
    assert first["pagination"]["total_count"] == 3
    cursor = first["pagination"]["next_cursor"]
    second = await client.get("/customers", params={"opted_out": "true", "cursor": cursor})
    assert ids(second.json()["data"]) == [made[0]["id"]]
    # A cursor from one filter is not one for another.
    other = await client.get("/customers", params={"opted_out": "false", "cursor": cursor})
    assert_error(other, 422, "VALIDATION_ERROR")
    bad = await client.get("/customers", params={"opted_out": "maybe"})
    assert [d["field"] for d in assert_error(bad, 422, "VALIDATION_ERROR")["details"]] == [
        "opted_out"
    ]


async def test_the_history_shows_the_latest_50(client, make_customer):
    alice = await make_customer()
    for _ in range(30):
        await client.post(f"/customers/{alice['id']}/opt-out")
        await client.post(f"/customers/{alice['id']}/opt-in")

    history = (await client.get(f"/customers/{alice['id']}")).json()["consent_history"]

    assert len(history) == 50
    assert history[0]["opted_out"] is False  # the last change: an opt-in


# --- record_consent -------------------------------------------------------------------


async def events(runtime) -> list[tuple[int, bool, str, str | None]]:
    async with runtime.sessions() as session:
        rows = (await session.scalars(select(ConsentEvent).order_by(ConsentEvent.id))).all()
        return [(e.customer_id, e.opted_out, e.source, e.detail) for e in rows]


async def opted_out_at(runtime) -> dict[int, Any]:
    async with runtime.sessions() as session:
        rows = (await session.execute(select(Customer.id, Customer.opted_out_at))).all()
        return {int(i): at for i, at in rows}


async def record(runtime, changes: list[ConsentChange], now=None) -> list[int]:
    async with runtime.sessions.begin() as session:
        return await record_consent(session, changes, now or utcnow())


PROVIDER = ConsentSource.PROVIDER
INBOUND = ConsentSource.INBOUND


async def test_record_consent_by_id_and_phone_records_only_changes(runtime, make_customer):
    a, b, c = (await make_customer(), await make_customer(), await make_customer())
    t0 = utcnow().replace(microsecond=0)

    changed = await record(
        runtime,
        [
            ConsentChange(a["id"], None, True, PROVIDER, "opted out at the provider"),
            ConsentChange(None, b["phone"], True, INBOUND, "stop via africastalking"),
            ConsentChange(None, "+254799999999", True, INBOUND),  # no such customer
            ConsentChange(424242, None, True, PROVIDER),  # no such customer
            ConsentChange(c["id"], None, False, PROVIDER),  # not opted out: nothing
        ],
        t0,
    )

    assert sorted(changed) == sorted([a["id"], b["id"]])
    assert await events(runtime) == [
        (a["id"], True, "provider", "opted out at the provider"),
        (b["id"], True, "inbound", "stop via africastalking"),
    ]
    assert await opted_out_at(runtime) == {a["id"]: t0, b["id"]: t0, c["id"]: None}

    # A repeated STOP keeps the first time and records nothing.
    later = t0 + timedelta(hours=1)
    assert await record(runtime, [ConsentChange(a["id"], None, True, INBOUND)], later) == []
    assert (await opted_out_at(runtime))[a["id"]] == t0
    assert len(await events(runtime)) == 2

    # The last change for a customer is the one that counts.
    changed = await record(
        runtime,
        [
            ConsentChange(None, b["phone"], False, INBOUND, "start"),
            ConsentChange(None, b["phone"], True, INBOUND, "stop"),
            ConsentChange(c["id"], None, True, PROVIDER),
            ConsentChange(c["id"], None, False, PROVIDER),
        ],
        later,
    )
    assert changed == []
    assert len(await events(runtime)) == 2
    assert await record(runtime, []) == []


async def test_record_consent_for_many_customers_at_once(runtime):
    now = utcnow().replace(microsecond=0)
    async with runtime.sessions.begin() as session:
        rows = [Customer(phone=f"+2547100{i:05d}") for i in range(3000)]
        session.add_all(rows)
        await session.flush()
        ids = [row.id for row in rows]

    changed = await record(
        runtime,
        [ConsentChange(i, None, True, PROVIDER) for i in ids[:2000]]
        + [ConsentChange(None, f"+2547100{i:05d}", True, INBOUND) for i in range(1000, 3000)],
        now,
    )

    assert sorted(changed) == ids
    async with runtime.sessions() as session:
        counted = await session.scalar(select(func.count()).select_from(ConsentEvent))
        out = await session.scalar(
            select(func.count()).where(Customer.opted_out_at == now).select_from(Customer)
        )
    assert (counted, out) == (3000, 3000)


async def test_record_consent_is_a_few_statements_whatever_the_batch(runtime):
    async with runtime.sessions.begin() as session:
        rows = [Customer(phone=f"+2547200{i:05d}") for i in range(2000)]
        session.add_all(rows)
        await session.flush()
        ids = [row.id for row in rows]
    statements: list[str] = []

    def capture(_conn, _cursor, statement, *_args):
        statements.append(statement.split()[0].upper())

    engine = runtime.resources.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        await record(
            runtime,
            [ConsentChange(i, None, True, PROVIDER) for i in ids[:1000]]
            + [ConsentChange(None, f"+2547200{i:05d}", True, INBOUND) for i in range(1000, 2000)],
        )
    finally:
        event.remove(engine, "before_cursor_execute", capture)

    # BEGIN/COMMIT aside: the ids' UPDATE, the phones' UPDATE, one INSERT of 2000 events.
    assert [s for s in statements if s in ("UPDATE", "INSERT", "SELECT")] == [
        "UPDATE",
        "UPDATE",
        "INSERT",
    ]
