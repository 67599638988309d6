"""Schemathesis against the embedded service without API keys: every operation.

Each response must be no 5xx, a documented status with the documented content type and
body (errors included: the envelope), and invalid input must be refused.
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.contract.harness import (
    CHECKS,
    SETTINGS,
    Rows,
    document_for,
    install_hooks,
    load,
    running,
    seed,
)

# The send rate limit is off here so that the send operation's cases reach the route;
# the run with API keys keeps it on.
OVERRIDES: dict[str, Any] = {"send_rate_limit_per_minute": 0}
DOCUMENT = document_for(**OVERRIDES)
schema = load(DOCUMENT)
rows = Rows()
install_hooks(schema, rows)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running(tmp_path_factory.mktemp("contract"), DOCUMENT, **OVERRIDES) as url:
        with httpx.Client(base_url=url, timeout=10) as client:
            seed(client, rows)
        yield url


def test_every_operation_is_tested() -> None:
    operations = {(m.upper(), p) for p, item in DOCUMENT["paths"].items() for m in item}
    assert ("POST", "/campaigns/{campaign_id}/send") in operations
    assert ("POST", "/customers/import") in operations
    assert len(operations) >= 14, operations


@schema.parametrize()  # type: ignore[untyped-decorator]
@SETTINGS
def test_api_conforms_to_its_openapi_document(case: Any, base_url: str) -> None:
    case.call_and_validate(base_url=base_url, checks=CHECKS)
