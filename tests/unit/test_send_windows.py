"""Send windows on the recipient's clock, with a frozen clock: three time zones, a window
that wraps past midnight, daylight-saving changes; and the rules the worker applies."""

from datetime import datetime, time, timedelta

import pytest

from campaign_dispatch.compliance.rules import Hold, Refuse, Rules
from campaign_dispatch.compliance.windows import (
    SendWindow,
    recipient_zone,
    valid_zone,
    zone,
    zone_of_number,
)
from campaign_dispatch.statuses import FailureCode

DAY = SendWindow(time(8), time(20))
NIGHT = SendWindow(time(21), time(6))  # wraps past midnight


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("zone_name", "now", "opens"),
    [
        # 06:00 UTC is 09:00 in Nairobi (+3): open.
        ("Africa/Nairobi", "2026-06-01T06:00:00", "2026-06-01T06:00:00"),
        # 04:00 UTC is 07:00 in Nairobi: opens at 08:00 local, 05:00 UTC.
        ("Africa/Nairobi", "2026-06-01T04:00:00", "2026-06-01T05:00:00"),
        # 18:00 UTC is 21:00 in Nairobi: shut until 08:00 tomorrow.
        ("Africa/Nairobi", "2026-06-01T18:00:00", "2026-06-02T05:00:00"),
        # The same instant is 23:30 in Kolkata (+05:30): opens 08:00 local = 02:30 UTC.
        ("Asia/Kolkata", "2026-06-01T18:00:00", "2026-06-02T02:30:00"),
        # And 14:00 in New York (-04:00 in June): open.
        ("America/New_York", "2026-06-01T18:00:00", "2026-06-01T18:00:00"),
        # 01:00 UTC is 21:00 the day before in New York: opens 08:00 local = 12:00 UTC.
        ("America/New_York", "2026-06-02T01:00:00", "2026-06-02T12:00:00"),
    ],
)
def test_three_time_zones_one_window(zone_name: str, now: str, opens: str) -> None:
    assert DAY.next_opening(zone(zone_name), utc(now)) == utc(opens)


@pytest.mark.parametrize(
    ("now", "opens"),
    [
        ("2026-06-01T22:00:00", "2026-06-01T22:00:00"),  # 22:00: open
        ("2026-06-01T02:00:00", "2026-06-01T02:00:00"),  # after midnight: still open
        ("2026-06-01T06:00:00", "2026-06-01T21:00:00"),  # its end: shut until 21:00
        ("2026-06-01T12:00:00", "2026-06-01T21:00:00"),
        ("2026-06-01T21:00:00", "2026-06-01T21:00:00"),  # its start: open
    ],
)
def test_a_window_that_wraps_past_midnight(now: str, opens: str) -> None:
    assert NIGHT.wraps and not DAY.wraps
    assert NIGHT.next_opening(zone("UTC"), utc(now)) == utc(opens)


def test_daylight_saving_moves_the_opening_with_the_local_clock() -> None:
    new_york = zone("America/New_York")
    # Clocks go forward on 2026-03-08: 08:00 is 13:00 UTC the day before, 12:00 UTC after.
    assert DAY.next_opening(new_york, utc("2026-03-07T02:00:00")) == utc("2026-03-07T13:00:00")
    assert DAY.next_opening(new_york, utc("2026-03-08T02:00:00")) == utc("2026-03-08T12:00:00")
    # Clocks go back on 2026-11-01: 08:00 is 12:00 UTC the day before, 13:00 UTC after.
    assert DAY.next_opening(new_york, utc("2026-10-31T02:00:00")) == utc("2026-10-31T12:00:00")
    assert DAY.next_opening(new_york, utc("2026-11-01T02:00:00")) == utc("2026-11-01T13:00:00")
    # 20:00 local ends the window on both sides of the change.
    assert DAY.next_opening(new_york, utc("2026-03-09T00:30:00")) == utc("2026-03-09T12:00:00")
    assert DAY.next_opening(new_york, utc("2026-03-08T23:30:00")) == utc("2026-03-08T23:30:00")


def test_a_start_inside_a_daylight_saving_gap_opens_just_after_it() -> None:
    # 02:30 does not exist in New York on 2026-03-08 (02:00 → 03:00).
    window = SendWindow(time(2, 30), time(5))
    opens = window.next_opening(zone("America/New_York"), utc("2026-03-08T05:00:00"))
    local = opens.replace(tzinfo=zone("UTC")).astimezone(zone("America/New_York"))
    assert window.contains(local.time())
    assert opens - utc("2026-03-08T07:00:00") <= timedelta(hours=1)  # 03:00 local is 07:00 UTC


@pytest.mark.parametrize("bad", ["08:00", "8:00-20:00", "08:00-24:00", "08:00-08:00", "x-y"])
def test_bad_windows_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"HH:MM|differ"):
        SendWindow.parse(bad)


def test_a_window_round_trips() -> None:
    assert SendWindow.parse(" 21:00 - 06:00 ") == NIGHT
    assert SendWindow.from_json(NIGHT.to_json()) == NIGHT
    assert NIGHT.setting() == "21:00-06:00"


def test_a_recipients_clock_is_theirs_then_their_numbers_then_the_default() -> None:
    assert recipient_zone("Asia/Tokyo", "+254712345678", "UTC").key == "Asia/Tokyo"
    assert recipient_zone(None, "+254712345678", "UTC").key == "Africa/Nairobi"
    assert recipient_zone(None, "+442079460000", "UTC").key == "Europe/London"
    assert recipient_zone(None, "+12125551234", "UTC").key == "America/New_York"  # its area
    # A number of several zones (a toll-free one, a mobile across Russia) names none.
    assert zone_of_number("+18002345678") is None
    assert recipient_zone(None, "+79161234567", "Africa/Lagos").key == "Africa/Lagos"
    assert recipient_zone(None, None, "Africa/Lagos").key == "Africa/Lagos"
    assert recipient_zone(None, "not a number", "Africa/Lagos").key == "Africa/Lagos"
    with pytest.raises(ValueError, match="IANA"):
        valid_zone("Mars/Olympus")


RULES = Rules(None, "UTC")
NOW = utc("2026-06-01T12:00:00")


def check(rules: Rules = RULES, **given: object) -> object:
    values: dict[str, object] = {
        "opted_out_at": None,
        "timezone": "UTC",
        "phone": None,
        "window": None,
        "expires_at": None,
    }
    return rules.check(NOW, **{**values, **given})  # type: ignore[arg-type]


def test_the_rules_at_the_moment_of_sending() -> None:
    assert check() is None
    refused = check(opted_out_at=NOW - timedelta(days=1))
    assert isinstance(refused, Refuse) and refused.code == FailureCode.OPTED_OUT
    expired = check(expires_at=NOW)
    assert isinstance(expired, Refuse) and expired.code == FailureCode.EXPIRED
    assert check(window=DAY) is None  # 12:00 UTC is inside
    assert check(window=NIGHT) == Hold(utc("2026-06-01T21:00:00"))
    # A window that opens only after the campaign expires: expired now, not held.
    late = check(window=NIGHT, expires_at=utc("2026-06-01T20:00:00"))
    assert isinstance(late, Refuse) and late.code == FailureCode.EXPIRED
    assert "after the campaign expires" in late.error
    # DEFAULT_SEND_WINDOW applies when the campaign has none; the campaign's wins.
    assert check(Rules(NIGHT, "UTC")) == Hold(utc("2026-06-01T21:00:00"))
    assert check(Rules(NIGHT, "UTC"), window=DAY) is None
