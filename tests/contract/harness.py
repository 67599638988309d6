"""What both contract runs share: the document under test, the checks, the seed data and
the hooks that point generated ids at rows that exist.

The OpenAPI document is built at import time, from settings that differ from the served
app's only in where its database is; each run's fixture asserts that the running server
serves exactly this document, so the cases are generated from what clients read.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from campaign_dispatch.app import create_app
from campaign_dispatch.models.base import MAX_ID
from tests.contract.live import embedded_settings, serve, service_settings

SEED = 20261202

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,  # error responses too: each is documented as the envelope
    response_headers_conformance,
    negative_data_rejection,
    missing_required_header,
    unsupported_method,
    allow_header_conformance,
]
"""Every check that applies to this API. Left out: `positive_data_acceptance`, which
expects every schema-valid request to succeed. Here a schema-valid request can be a
correct 422 that no schema can express: a cursor this API did not issue, a template with
an unknown placeholder, customer ids that name no customer. Those 422s are documented,
and `status_code_conformance` and `response_schema_conformance` still check them."""

MAX_EXAMPLES = int(os.environ.get("CONTRACT_MAX_EXAMPLES", "40"))
"""Per operation and phase (the coverage phase adds its own cases); a deeper local run:
CONTRACT_MAX_EXAMPLES=500 .venv/bin/pytest tests/contract"""

SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,  # one case is a real HTTP round trip beside a running worker
    derandomize=True,  # the same cases on every run and machine
    database=None,  # nothing replayed from an earlier run's .hypothesis/ directory
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def document_for(**overrides: Any) -> dict[str, Any]:
    """The OpenAPI document of the served app with these settings (no database is touched)."""
    return create_app(service_settings("sqlite:///unused.db", **overrides)).openapi()


def load(document: dict[str, Any], *, generate_credentials: bool = True) -> Any:
    """The schema to parametrize with; `generate_credentials=False` leaves the security
    headers to the test (the key it passes is then the only credential sent)."""
    config = schemathesis.Config.from_dict(
        {"seed": SEED, "generation": {"with-security-parameters": generate_credentials}}
    )
    return schemathesis.openapi.from_dict(document, config=config)


class Rows:
    """The ids the seed created, by path parameter name."""

    def __init__(self) -> None:
        self.ids: dict[str, list[int]] = {"campaign_id": [], "customer_id": []}

    def clear(self) -> None:
        for ids in self.ids.values():
            ids.clear()


def install_hooks(schema: Any, rows: Rows) -> None:
    """Half the generated ids become ids of seeded rows, so that operations on one
    resource reach a row (200, 202, 409) and not only the 404 of a random id."""

    def real(name: str, value: object) -> bool:
        return type(value) is int and 0 < value <= MAX_ID and bool(rows.ids[name])

    @schema.hook  # type: ignore[untyped-decorator]
    def flatmap_path_parameters(_: Any, path_parameters: dict[str, Any] | None) -> Any:
        names = [n for n, v in (path_parameters or {}).items() if n in rows.ids and real(n, v)]
        if not names:
            return st.just(path_parameters)
        seeded = st.fixed_dictionaries({n: st.sampled_from(rows.ids[n]) for n in names})
        return st.one_of(
            st.just(path_parameters), seeded.map(lambda ids: {**(path_parameters or {}), **ids})
        )

    @schema.hook  # type: ignore[untyped-decorator]
    def flatmap_body(_: Any, body: Any) -> Any:
        if not isinstance(body, dict):
            return st.just(body)
        customers = rows.ids["customer_id"]
        replacements: dict[str, Any] = {}
        if real("customer_id", body.get("customer_id")):
            replacements["customer_id"] = st.sampled_from(customers)
        ids = body.get("customer_ids")
        if isinstance(ids, list) and ids and all(real("customer_id", i) for i in ids):
            replacements["customer_ids"] = st.lists(
                st.sampled_from(customers), min_size=1, max_size=len(customers)
            )
        if not replacements:
            return st.just(body)
        return st.one_of(
            st.just(body), st.fixed_dictionaries(replacements).map(lambda r: {**body, **r})
        )


def seed(client: httpx.Client, rows: Rows) -> None:
    """A few customers and campaigns in each state a route can meet: a draft, one sent
    (its messages listed), one scheduled with an audience."""
    rows.clear()
    for n in range(4):
        response = client.post(
            "/customers",
            json={"phone": f"+2547990000{n:02d}", "first_name": f"Seed{n}", "location": "Nairobi"},
        )
        assert response.status_code == 201, response.text
        rows.ids["customer_id"].append(response.json()["id"])
    customers = rows.ids["customer_id"]
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    for body in (
        {"name": "Draft", "channel": "sms", "base_template": "Hi {first_name}"},
        {"name": "Sent", "channel": "whatsapp", "base_template": "Hello {first_name|friend}"},
        {
            "name": "Scheduled",
            "channel": "sms",
            "base_template": "{first_name}, {preferred_product|our offer} awaits",
            "scheduled_at": later,
            "customer_ids": customers[:2],
        },
    ):
        response = client.post("/campaigns", json=body)
        assert response.status_code == 201, response.text
        rows.ids["campaign_id"].append(response.json()["id"])
    sent = rows.ids["campaign_id"][1]
    response = client.post(f"/campaigns/{sent}/send", json={"customer_ids": customers})
    assert response.status_code == 202, response.text


@contextmanager
def running(directory: Path, document: dict[str, Any], **overrides: Any) -> Iterator[str]:
    """The embedded service with these settings, serving `document`; yields its URL."""
    with serve(embedded_settings(directory, **overrides)) as base_url:
        served = httpx.get(f"{base_url}/openapi.json", timeout=10).json()
        assert served == document, "the server serves another document than the one tested"
        yield base_url
