"""The page token: round trip, tamper and garbage rejection, filter fingerprints."""

import base64
import dataclasses

import pytest

from campaign_dispatch.models.base import MAX_ID
from campaign_dispatch.repositories.pagination import (
    Cursor,
    InvalidCursor,
    PageResult,
    _fingerprint,
)
from campaign_dispatch.services.paging import cursor_error

ISSUED = Cursor(snapshot_id=120, after_id=101, page=2, total_count=57, filters="0123456789ab")


def token(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def test_round_trip() -> None:
    encoded = ISSUED.encode()

    assert Cursor.decode(encoded) == ISSUED
    assert "=" not in encoded
    assert base64.urlsafe_b64decode(encoded + "==").decode() == "120.101.2.57.0123456789ab"


def test_largest_ids_round_trip() -> None:
    cursor = dataclasses.replace(ISSUED, snapshot_id=MAX_ID, after_id=MAX_ID, total_count=MAX_ID)

    assert Cursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "!!!",
        "abc",
        "Zm9v",  # "foo"
        token("1.2.3.4"),
        token("1.2.3.4.f.6"),
        token("a.b.c.d.f"),
        base64.urlsafe_b64encode(b"\xff\xfe.1.2.3.f").decode(),
    ],
)
def test_garbage_is_a_validation_error_on_the_cursor_field(garbage: str) -> None:
    with pytest.raises(InvalidCursor) as caught:
        Cursor.decode(garbage)

    error = cursor_error(caught.value)  # as the API answers it
    assert error.code == "VALIDATION_ERROR"
    assert error.status_code == 422
    assert error.details == [
        {"field": "cursor", "message": "cursor is not a cursor this API issued"}
    ]


@pytest.mark.parametrize(
    "change",
    [
        {"page": 1},
        {"page": 0},
        {"page": -2},
        {"snapshot_id": -1},
        {"after_id": -1},
        {"total_count": -1},
        {"snapshot_id": MAX_ID + 1},
        {"after_id": 10**30},
        {"page": MAX_ID + 1},
    ],
)
def test_tampered_numbers_are_rejected(change: dict[str, int]) -> None:
    with pytest.raises(InvalidCursor):
        Cursor.decode(dataclasses.replace(ISSUED, **change).encode())


def test_fingerprint_depends_on_listing_and_set_filters_only() -> None:
    campaigns = _fingerprint("Campaign.id", {"channel": "sms", "status": None})

    assert campaigns == _fingerprint("Campaign.id", {"channel": "sms"})
    assert campaigns == _fingerprint("Campaign.id", {"status": None, "channel": "sms"})
    assert campaigns != _fingerprint("Campaign.id", {})
    assert campaigns != _fingerprint("Campaign.id", {"channel": "whatsapp"})
    assert campaigns != _fingerprint("Campaign.id", {"status": "sms"})
    assert campaigns != _fingerprint("Customer.id", {"channel": "sms"})
    assert _fingerprint("Campaign.id", {}) != _fingerprint("Customer.id", {"q": None})
    assert len(campaigns) == 12
    assert "." not in campaigns


@pytest.mark.parametrize(
    ("total", "size", "pages"),
    [(0, 20, 0), (1, 20, 1), (20, 20, 1), (21, 20, 2), (45, 7, 7), (57, 20, 3), (100, 100, 1)],
)
def test_total_pages(total: int, size: int, pages: int) -> None:
    result = PageResult([], 1, size, total, 0, None)

    assert result.total_pages == pages
