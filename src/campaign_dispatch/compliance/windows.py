"""Quiet hours: a campaign's send window, in each recipient's local time.

A window is a start and an end on the wall clock ("08:00" to "20:00"); a start after the
end wraps past midnight ("21:00" to "06:00" is the night). Whether a moment is inside is
judged on the recipient's clock, through `zoneinfo`, so daylight-saving changes move the
window's instants with the local clock. The next opening of a window is the first
instant from now whose local time is its start.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from phonenumbers import timezone as number_zones

_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_UNKNOWN_ZONE = "Etc/Unknown"


def parse_clock(value: str) -> time:
    """'08:00' → 08:00; anything else (24:00, 8:00, 08:00:00) is a ValueError."""
    match = _CLOCK.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a time of day as HH:MM (00:00 to 23:59)")
    return time(int(match[1]), int(match[2]))


@dataclass(frozen=True)
class SendWindow:
    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("a send window's start and end must differ")

    @classmethod
    def parse(cls, value: str) -> "SendWindow":
        """'08:00-20:00' (DEFAULT_SEND_WINDOW's form)."""
        start, sep, end = value.partition("-")
        if not sep:
            raise ValueError(f"{value!r} is not a send window as HH:MM-HH:MM")
        return cls(parse_clock(start.strip()), parse_clock(end.strip()))

    @classmethod
    def from_json(cls, value: dict[str, str]) -> "SendWindow":
        return cls(parse_clock(value["start"]), parse_clock(value["end"]))

    def to_json(self) -> dict[str, str]:
        return {"start": self.start.strftime("%H:%M"), "end": self.end.strftime("%H:%M")}

    def setting(self) -> str:
        """DEFAULT_SEND_WINDOW's form, '08:00-20:00'."""
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def __str__(self) -> str:
        return self.setting()

    @property
    def wraps(self) -> bool:
        return self.start > self.end

    def contains(self, local: time) -> bool:
        if self.wraps:
            return local >= self.start or local < self.end
        return self.start <= local < self.end

    def next_opening(self, zone: ZoneInfo, now: datetime) -> datetime:
        """`now` (naive UTC, as every timestamp here) when the window is open on the
        recipient's clock, else the window's next opening, naive UTC."""
        local = now.replace(tzinfo=UTC).astimezone(zone)
        if self.contains(local.time()):
            return now
        # Outside: the next start is today's when it is still ahead on the local clock,
        # else tomorrow's. (Wrapping or not, outside means before today's start or, for a
        # plain window, after today's end.) A start that falls in a daylight-saving gap
        # does not exist that day: fold 0 reads it with the offset before the change, an
        # instant just after the gap, inside the window.
        day = local.date() if local.time() < self.start else local.date() + timedelta(days=1)
        opening = datetime.combine(day, self.start, tzinfo=zone)
        return opening.astimezone(UTC).replace(tzinfo=None)


def valid_zone(name: str) -> str:
    """An IANA time zone name, else a ValueError naming it."""
    if name not in _zone_names():
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. Africa/Nairobi)")
    return name


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=65_536)
def zone_of_number(phone: str) -> str | None:
    """The time zone of an E.164 number's area, when its country (or area) has exactly
    one; None when it has several or none is known (the caller's default then)."""
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    zones = [z for z in number_zones.time_zones_for_number(parsed) if z != _UNKNOWN_ZONE]
    if len(zones) != 1:
        return None
    try:
        zone(zones[0])
    except ZoneInfoNotFoundError:
        return None
    return zones[0]


def recipient_zone(timezone: str | None, phone: str | None, default: str) -> ZoneInfo:
    """A recipient's clock: their own `timezone`, else their number's, else `default`."""
    if timezone:
        try:
            return zone(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    found = zone_of_number(phone) if phone else None
    return zone(found or default)
