from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from campaign_dispatch.models.base import Base, IdType, Timestamped

CHANNELS = ("sms", "whatsapp")
CAMPAIGN_STATUSES = ("draft", "scheduled", "sending", "sent", "failed")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Campaign(Timestamped, Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(_one_of("channel", CHANNELS), name="channel"),
        CheckConstraint(_one_of("status", CAMPAIGN_STATUSES), name="status"),
        # GET /campaigns?status=… and ?channel=…&status=…, newest first by id
        Index("ix_campaigns_status_id", "status", "id"),
        Index("ix_campaigns_channel_status_id", "channel", "status", "id"),
        # GET /campaigns?channel=…, newest first by id
        Index("ix_campaigns_channel_id", "channel", "id"),
        # the scheduler's due-campaign scan
        Index(
            "ix_campaigns_due",
            "scheduled_at",
            postgresql_where=text("status = 'scheduled'"),
            sqlite_where=text("status = 'scheduled'"),
        ),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    base_template: Mapped[str] = mapped_column(Text)
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime())


class CampaignAudience(Base):
    """Customers a campaign is meant for, kept for scheduled dispatch."""

    __tablename__ = "campaign_audience"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )


class CampaignCount(Base):
    """Campaigns per (channel, status), maintained by database triggers (migration 0003)."""

    __tablename__ = "campaign_counts"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, server_default="0")
