from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from campaign_dispatch.models.base import Base, IdType, Timestamped
from campaign_dispatch.statuses import CampaignStatus, Channel, sql_list

_DUE = text(f"status = '{CampaignStatus.SCHEDULED}'")
_EXPIRING = text("expires_at IS NOT NULL")


class Campaign(Timestamped, Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(f"channel IN ({sql_list(Channel)})", name="channel"),
        CheckConstraint(f"status IN ({sql_list(CampaignStatus)})", name="status"),
        # GET /campaigns?status=… and ?channel=…&status=…, newest first by id
        Index("ix_campaigns_status_id", "status", "id"),
        Index("ix_campaigns_channel_status_id", "channel", "status", "id"),
        # GET /campaigns?channel=…, newest first by id
        Index("ix_campaigns_channel_id", "channel", "id"),
        # the scheduler's due-campaign scan
        Index(
            "ix_campaigns_due",
            "scheduled_at",
            postgresql_where=_DUE,
            sqlite_where=_DUE,
        ),
        # the recovery sweep's expired campaigns
        Index(
            "ix_campaigns_expires_at",
            "expires_at",
            postgresql_where=_EXPIRING,
            sqlite_where=_EXPIRING,
        ),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.DRAFT)
    base_template: Mapped[str] = mapped_column(Text)
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime())
    # An audience stored as a filter ({} is every customer), resolved when it is sent;
    # the other kind of stored audience is the campaign_audience rows.
    segment: Mapped[dict[str, str] | None] = mapped_column(JSON(none_as_null=True))
    # Why the campaign is paused, when it is (an operator, or the automatic pause's cause).
    pause_reason: Mapped[str | None] = mapped_column(Text)
    # The automatic pause judges only attempts after this one (those since the last resume
    # or retry-failed, so that the failures that paused it do not pause it again at once).
    pause_window_after: Mapped[int | None] = mapped_column(IdType)
    # WhatsApp: a pre-approved template ({name, language, body_params}) sent instead of
    # free text; each body parameter is rendered like base_template.
    whatsapp_template: Mapped[dict[str, object] | None] = mapped_column(JSON(none_as_null=True))
    # Quiet hours: {"start": "08:00", "end": "20:00"} on each recipient's clock (unset:
    # DEFAULT_SEND_WINDOW); a start after the end wraps past midnight.
    send_window: Mapped[dict[str, str] | None] = mapped_column(JSON(none_as_null=True))
    # Nothing is sent after this: what is left then fails with EXPIRED.
    expires_at: Mapped[datetime | None] = mapped_column(DateTime())


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


class CampaignMessageCount(Base):
    """A campaign's messages per status, kept by database triggers (migration 0006) in the
    same transaction as every change, so the detail reads its stats without counting."""

    __tablename__ = "campaign_message_counts"

    campaign_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, server_default="0")
