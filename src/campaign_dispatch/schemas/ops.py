import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str]


class Stats(BaseModel):
    date: dt.date = Field(description="Today (UTC), the day the counts cover")
    campaigns_sent_today: int = Field(description="Campaigns that became `sent` today")
    messages_sent_today: int
    messages_failed_today: int = Field(description="Messages that failed for good today")
    failure_rate: float = Field(description="failed / (sent + failed) today; 0.0 when neither")
    messages_pending: int = Field(description="Messages waiting to be sent (queued or retrying)")
