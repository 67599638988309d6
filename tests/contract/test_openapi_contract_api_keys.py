"""Schemathesis with API_KEYS set: the protected operations, called with a valid key.

`ignored_auth` resends each successful request without a key and with a wrong one, and
fails unless both are refused; every other check is the keyless run's. The send rate
limit stays on (its 429 is documented on the send operation).
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from schemathesis.specs.openapi.checks import ignored_auth

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

KEY = "contract-test-key-0123456789"
OVERRIDES: dict[str, Any] = {"api_keys": f"other-key,{KEY}"}
DOCUMENT = document_for(**OVERRIDES)
PROTECTED = r"^/(campaigns|customers|templates)"
schema = load(DOCUMENT, generate_credentials=False).include(path_regex=PROTECTED)
rows = Rows()
install_hooks(schema, rows)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running(tmp_path_factory.mktemp("contract-keys"), DOCUMENT, **OVERRIDES) as url:
        headers = {"Authorization": f"Bearer {KEY}"}
        with httpx.Client(base_url=url, timeout=10, headers=headers) as client:
            seed(client, rows)
        yield url


def test_the_document_declares_the_keys_on_every_protected_operation() -> None:
    protected = [
        operation
        for path, item in DOCUMENT["paths"].items()
        if path.startswith(("/campaigns", "/customers", "/templates"))
        for operation in item.values()
    ]
    assert len(protected) >= 10
    for operation in protected:
        assert operation.get("security"), operation["operationId"]
        assert "401" in operation["responses"], operation["operationId"]


@schema.parametrize()  # type: ignore[untyped-decorator]
@SETTINGS
def test_protected_api_conforms_with_a_key(case: Any, base_url: str) -> None:
    case.call_and_validate(
        base_url=base_url, headers={"X-API-Key": KEY}, checks=[*CHECKS, ignored_auth]
    )
