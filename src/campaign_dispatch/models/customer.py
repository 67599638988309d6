from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from campaign_dispatch.models.base import Base, IdType, Timestamped
from campaign_dispatch.statuses import ConsentSource, sql_list

_OPTED_OUT = text("opted_out_at IS NOT NULL")


class Customer(Timestamped, Base):
    __tablename__ = "customers"
    __table_args__ = (
        # GET /customers?opted_out=true, by id
        Index("ix_customers_opted_out", "id", postgresql_where=_OPTED_OUT, sqlite_where=_OPTED_OUT),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), unique=True)  # E.164
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    location: Mapped[str | None] = mapped_column(String(200))
    preferred_product: Mapped[str | None] = mapped_column(String(200))
    # Set while the customer has opted out: nothing is sent to them (consent events say
    # who changed it, when).
    opted_out_at: Mapped[datetime | None] = mapped_column(DateTime())
    # IANA; unset, their number's country decides, else DEFAULT_TIMEZONE (send windows).
    timezone: Mapped[str | None] = mapped_column(String(64))


class ConsentEvent(Base):
    """One change of a customer's opt-out, with where it came from; every one is kept."""

    __tablename__ = "customer_consent_events"
    __table_args__ = (
        CheckConstraint(f"source IN ({sql_list(ConsentSource)})", name="source"),
        Index("ix_customer_consent_events_customer_id_id", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    opted_out: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime())
