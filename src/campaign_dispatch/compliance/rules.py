"""What the pipeline checks at the moment of sending, whatever was true when the
campaign was sent: the customer has not opted out, the campaign has not expired, and the
recipient's send window is open. A message that fails the first two is never handed to
a provider; one outside its window waits for it."""

from dataclasses import dataclass
from datetime import datetime

from campaign_dispatch.compliance.windows import SendWindow, recipient_zone
from campaign_dispatch.statuses import FailureCode


@dataclass(frozen=True)
class Refuse:
    code: FailureCode
    error: str


@dataclass(frozen=True)
class Hold:
    until: datetime  # the recipient's window opens then (naive UTC)


Verdict = Refuse | Hold | None  # None: send it now


def _iso(at: datetime) -> str:
    return f"{at.isoformat(timespec='seconds')}Z"


@dataclass(frozen=True)
class Rules:
    default_window: SendWindow | None  # DEFAULT_SEND_WINDOW
    default_timezone: str  # DEFAULT_TIMEZONE

    def check(
        self,
        now: datetime,
        *,
        opted_out_at: datetime | None,
        timezone: str | None,
        phone: str | None,
        window: SendWindow | None,
        expires_at: datetime | None,
    ) -> Verdict:
        if opted_out_at is not None:
            return Refuse(
                FailureCode.OPTED_OUT, f"not sent: the customer opted out at {_iso(opted_out_at)}"
            )
        if expires_at is not None and now >= expires_at:
            return Refuse(
                FailureCode.EXPIRED, f"not sent: the campaign expired at {_iso(expires_at)}"
            )
        window = window or self.default_window
        if window is None:
            return None
        zone = recipient_zone(timezone, phone, self.default_timezone)
        opens = window.next_opening(zone, now)
        if opens <= now:
            return None
        if expires_at is not None and opens >= expires_at:
            return Refuse(
                FailureCode.EXPIRED,
                f"not sent: the recipient's window ({window}, {zone.key}) next opens at "
                f"{_iso(opens)}, after the campaign expires at {_iso(expires_at)}",
            )
        return Hold(opens)
