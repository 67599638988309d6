"""Customers: create, get, search, CSV import."""

import asyncio
from typing import Any

import httpx
import pytest

from campaign_dispatch.repositories import customers as customers_repo
from tests.api_helpers import assert_error


async def all_customers(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/customers", params={"page_size": 100, **params})
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def test_create_returns_201_location_and_the_customer(client):
    body = {
        "phone": "+254712345678",
        "first_name": "Alice",
        "last_name": "Wanjiru",
        "location": "Nairobi",
        "preferred_product": "Running Shoes",
    }

    response = await client.post("/customers", json=body)

    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/customers/{created['id']}"
    assert created == {
        **body,
        "id": created["id"],
        "opted_out_at": None,
        "timezone": None,
        "created_at": created["created_at"],
    }
    assert created["created_at"].endswith("Z")
    fetched = await client.get(f"/customers/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == {**created, "consent_history": []}


async def test_optional_fields_default_to_null(client):
    response = await client.post("/customers", json={"phone": "0712345678"})

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["phone"] == "+254712345678"  # national, read as DEFAULT_REGION's (KE)
    fields = ("first_name", "last_name", "location", "preferred_product", "timezone")
    assert [body[k] for k in fields] == [None] * 5


async def test_phone_is_stored_without_spaces_or_dashes(client):
    response = await client.post("/customers", json={"phone": " +254 712-345 678 "})

    assert response.status_code == 201, response.text
    assert response.json()["phone"] == "+254712345678"


async def test_duplicate_phone_is_422(client):
    assert (await client.post("/customers", json={"phone": "+254712345678"})).status_code == 201

    for second in ("+254712345678", "+254 712 345 678", "+254-712-345-678"):
        response = await client.post("/customers", json={"phone": second, "first_name": "Twin"})

        error = assert_error(response, 422, "VALIDATION_ERROR")
        assert "+254712345678" in error["message"], second
        assert error["details"] == [{"field": "phone", "message": "already exists"}]
    assert len(await all_customers(client)) == 1


async def test_duplicate_phone_racing_past_the_check_is_still_422(client, monkeypatch):
    assert (await client.post("/customers", json={"phone": "+254712345678"})).status_code == 201

    async def nobody(*_: Any) -> set[str]:
        return set()

    monkeypatch.setattr(customers_repo, "existing_phones", nobody)
    response = await client.post("/customers", json={"phone": "+254712345678"})

    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert error["details"] == [{"field": "phone", "message": "already exists"}]


async def test_concurrent_duplicates_create_one_customer(client):
    responses = await asyncio.gather(
        *(client.post("/customers", json={"phone": "+254799999999"}) for _ in range(5))
    )

    assert sorted(r.status_code for r in responses) == [201, 422, 422, 422, 422]
    assert len(await all_customers(client)) == 1


INVALID_CUSTOMERS = [
    ({"phone": "abc"}, "phone"),
    ({"phone": ""}, "phone"),
    ({"phone": "12345"}, "phone"),
    ({"phone": "+2547123456789012345678901234567890"}, "phone"),
    ({"phone": "+254712345678x"}, "phone"),
    ({"phone": "++254712345678"}, "phone"),
    ({"phone": "- - - - - -"}, "phone"),
    ({"phone": 254712345678}, "phone"),
    ({}, "phone"),
    ({"phone": "+254712345678", "first_name": "x" * 101}, "first_name"),
    ({"phone": "+254712345678", "location": "x" * 201}, "location"),
    ({"phone": "+254712345678", "prefered_product": "Shoes"}, "prefered_product"),
]


async def test_invalid_customer_is_422(client):
    for body, field in INVALID_CUSTOMERS:
        response = await client.post("/customers", json=body)

        error = assert_error(response, 422, "VALIDATION_ERROR")
        assert field in [d["field"] for d in error["details"]], body
    assert await all_customers(client) == []


async def test_unknown_customer_is_404(client):
    for customer_id in ("424242", str(2**63 - 1)):
        response = await client.get(f"/customers/{customer_id}")

        error = assert_error(response, 404, "CUSTOMER_NOT_FOUND")
        assert error["message"] == f"Customer with ID {customer_id} not found"


@pytest.fixture
async def people(make_customer):
    return {
        "alice": await make_customer(
            phone="+254711000001", first_name="Alice", location="Nairobi", preferred_product="Shoes"
        ),
        "bob": await make_customer(
            phone="+254722000002", first_name="Bob", last_name="Nairobian", location="Mombasa"
        ),
        "carol": await make_customer(
            phone="+254733000003", first_name="Carol", preferred_product="Running_Shoes 100%"
        ),
    }


SEARCHES = [
    (None, ["carol", "bob", "alice"]),
    ("nairobi", ["bob", "alice"]),
    ("ALICE", ["alice"]),
    ("  bob  ", ["bob"]),
    ("shoes", ["carol", "alice"]),
    ("722", ["bob"]),
    ("+2547", ["carol", "bob", "alice"]),
    ("nobody", []),
    ("%", ["carol"]),
    ("_", ["carol"]),
    ("ali_e", []),
    ("100%", ["carol"]),
]


async def test_list_with_q_search(client, people):
    for q, names in SEARCHES:
        params = {"q": q} if q is not None else {}

        found = await all_customers(client, **params)

        assert [c["id"] for c in found] == [people[n]["id"] for n in names], q


async def test_list_pages_newest_first(client, make_customer):
    ids = [(await make_customer())["id"] for _ in range(5)]

    first = (await client.get("/customers", params={"page_size": 2})).json()
    rest = []
    cursor = first["pagination"]["next_cursor"]
    while cursor:
        page = (await client.get("/customers", params={"page_size": 2, "cursor": cursor})).json()
        rest += page["data"]
        cursor = page["pagination"]["next_cursor"]

    assert [c["id"] for c in first["data"] + rest] == ids[::-1]
    assert first["pagination"]["total_count"] == 5
    assert first["pagination"]["total_pages"] == 3


async def test_list_rejects_a_long_q(client):
    response = await client.get("/customers", params={"q": "x" * 101})

    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["q"]


# --- CSV import -----------------------------------------------------------------------------


async def upload(client: httpx.AsyncClient, content: bytes, name: str = "customers.csv") -> Any:
    return await client.post("/customers/import", files={"file": (name, content, "text/csv")})


async def test_import_creates_good_rows_and_reports_bad_ones(client):
    csv = (
        "phone,first_name,last_name,location,preferred_product\n"
        "+254700000001,Alice,Wanjiru,Nairobi,Running Shoes\n"
        "not-a-phone,Bad,Row,,\n"
        "+254700000002,Bob,,,\n"
        "+254700000003," + "x" * 101 + ",,,\n"
        ",No,Phone,,\n"
    )

    response = await upload(client, csv.encode())

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["created"] == 2
    assert body["skipped"] == 0
    assert [e["row"] for e in body["errors"]] == [3, 5, 6]
    assert body["errors"][0]["message"].startswith("phone: ")
    assert body["errors"][1]["message"].startswith("first_name: ")
    assert body["errors"][2]["message"].startswith("phone: ")
    stored = await all_customers(client)
    assert [(c["phone"], c["first_name"], c["last_name"]) for c in stored] == [
        ("+254700000002", "Bob", None),
        ("+254700000001", "Alice", "Wanjiru"),
    ]
    assert stored[1]["preferred_product"] == "Running Shoes"


async def test_import_skips_duplicates_in_the_database_and_the_file(client, make_customer):
    await make_customer(phone="+254700000001", first_name="Existing")
    csv = (
        b"phone,first_name\n"
        b"+254700000001,Again\n"
        b"+254700000002,New\n"
        b"+254 700 000 002,Same number spaced\n"
        b"+254700000003,Newer\n"
    )

    body = (await upload(client, csv)).json()

    assert body == {"created": 2, "skipped": 2, "errors": [], "errors_not_shown": 0}
    stored = await all_customers(client)
    assert sorted((c["phone"], c["first_name"]) for c in stored) == [
        ("+254700000001", "Existing"),
        ("+254700000002", "New"),
        ("+254700000003", "Newer"),
    ]


async def test_import_accepts_bom_crlf_quotes_and_column_order(client):
    csv = '\ufefffirst_name,phone\r\n"Smith, Jr.",+254700000009\r\n'.encode()

    body = (await upload(client, csv)).json()

    assert body == {"created": 1, "skipped": 0, "errors": [], "errors_not_shown": 0}
    assert (await all_customers(client))[0]["first_name"] == "Smith, Jr."


async def test_import_tolerates_spaced_and_capitalised_headers(client):
    body = (await upload(client, b"Phone, First_Name\n+254700000009, Ann\n")).json()

    assert body == {"created": 1, "skipped": 0, "errors": [], "errors_not_shown": 0}
    assert (await all_customers(client))[0]["first_name"] == "Ann"


async def test_import_row_numbers_are_file_lines(client):
    csv = b"phone,first_name\n\n+254700000001,Ann\n\nbad,Bo\n"

    body = (await upload(client, csv)).json()

    assert body["created"] == 1
    assert [e["row"] for e in body["errors"]] == [5]


async def test_import_reports_rows_with_too_many_values(client):
    csv = b"phone,first_name\n+254700000001,Ann,extra,more\n+254700000002,Bo\n"

    body = (await upload(client, csv)).json()

    assert body["created"] == 1
    assert body["errors"] == [{"row": 2, "message": "row has 2 more value(s) than the header"}]


BAD_FILES = [
    (b"first_name,last_name\nAnn,Lee\n", "phone"),
    (b"", "phone"),
    (b"\n\n", "phone"),
    (b"phone,first_name,age\n+254700000001,Ann,30\n", "age"),
    (b"phone,prefered_product\n+254700000001,Shoes\n", "prefered_product"),
    ("phone,first_name\n+254700000001,Zoë\n".encode("latin-1"), "UTF-8"),
    ("phone,first_name\n+254700000001,Zoë\n".encode("utf-16"), "UTF-8"),
]


async def test_import_rejects_bad_files_whole(client):
    for content, words in BAD_FILES:
        response = await upload(client, content)

        error = assert_error(response, 422, "VALIDATION_ERROR")
        assert words in error["message"], content
    assert await all_customers(client) == []


async def test_import_without_a_file_is_422(client):
    response = await client.post("/customers/import", files={"other": ("x.csv", b"phone\n")})

    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["file"]


def generated_csv(rows: int, start: int = 0) -> bytes:
    lines = [f"+2547{start + i:08d},Name{i},,Nairobi,Shoes" for i in range(rows)]
    return ("phone,first_name,last_name,location,preferred_product\n" + "\n".join(lines)).encode()


async def customer_count(client: httpx.AsyncClient) -> int:
    response = await client.get("/customers", params={"page_size": 1})
    return int(response.json()["pagination"]["total_count"])


async def test_an_import_of_100_000_rows_creates_them_all_and_a_second_skips_them_all(client):
    content = generated_csv(100_000)

    first = await upload(client, content)
    second = await upload(client, content)

    assert first.status_code == 200, first.text[:500]
    assert first.json() == {"created": 100_000, "skipped": 0, "errors": [], "errors_not_shown": 0}
    assert second.status_code == 200, second.text[:500]
    assert second.json() == {
        "created": 0,
        "skipped": 100_000,
        "errors": [],
        "errors_not_shown": 0,
    }
    assert await customer_count(client) == 100_000
    newest = (await client.get("/customers", params={"page_size": 1})).json()["data"][0]
    assert (newest["phone"], newest["first_name"]) == ("+254700099999", "Name99999")


async def test_an_import_over_200_000_rows_is_rejected_whole(client):
    response = await upload(client, generated_csv(200_001))

    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert "200000" in error["message"]
    assert await customer_count(client) == 0


async def test_import_row_errors_stop_at_100_and_count_the_rest(client):
    bad = "\n".join(f"bad{i},Nobody" for i in range(250))
    csv = f"phone,first_name\n+254700000001,Ann\n{bad}\n+254700000002,Bo\n".encode()

    body = (await upload(client, csv)).json()

    assert body["created"] == 2
    assert len(body["errors"]) == 100
    assert [e["row"] for e in body["errors"]] == list(range(3, 103))
    assert body["errors_not_shown"] == 150


async def test_import_with_cr_only_line_endings_is_read_line_by_line(client):
    csv = b'phone,first_name\r+254700000001,Ann\r\rbad,Bo\r+254700000002,"Smith\rJr."\r'

    response = await upload(client, csv)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["skipped"]) == (2, 0)
    assert [e["row"] for e in body["errors"]] == [4]
    stored = await all_customers(client)
    assert [(c["phone"], c["first_name"]) for c in stored] == [
        ("+254700000002", "Smith\rJr."),
        ("+254700000001", "Ann"),
    ]


OVERLONG_FIELDS = [
    (b"phone,first_name\n+254700000001,Ann\n+254700000002," + b"x" * 140_000 + b"\n", 3),
    (b'phone,first_name\n+254700000002,"' + b"x" * 140_000 + b'"\n', 2),
    (b"phone,first_" + b"x" * 140_000 + b"\n+254700000002,Ann\n", 1),
]


@pytest.mark.parametrize(("content", "line"), OVERLONG_FIELDS)
async def test_a_csv_field_over_the_parser_limit_is_422_naming_the_line(client, content, line):
    response = await upload(client, content)

    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert f"line {line}" in error["message"]
    assert "131072" in error["message"]
    assert await all_customers(client) == []
