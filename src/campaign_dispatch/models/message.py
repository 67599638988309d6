from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from campaign_dispatch.clock import utcnow
from campaign_dispatch.models.base import Base, IdType, Timestamped
from campaign_dispatch.statuses import (
    FINAL,
    AttemptOutcome,
    DeliveryStatus,
    MessageStatus,
    sql_list,
)

_PENDING = f"status = '{MessageStatus.PENDING}'"
_UNPUBLISHED = text(f"{_PENDING} AND enqueued_at IS NULL")
_PUBLISHED = text(f"{_PENDING} AND enqueued_at IS NOT NULL")
_CLAIMED = text(f"status = '{MessageStatus.SENDING}'")
_RECORDED = text("provider_message_id IS NOT NULL")
_FINISHED = text(f"status IN ({sql_list(FINAL)})")
_WINDOW_WAIT = text(f"{_PENDING} AND window_opens_at IS NOT NULL")


class OutboundMessage(Timestamped, Base):
    """One message to one customer; also the outbox row its queue job is published from.

    `enqueued_at` is NULL while the job still has to be published; `available_at` says
    from when (retries wait for their backoff); `lease_expires_at` bounds a worker's claim.
    """

    __tablename__ = "outbound_messages"
    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id"),
        CheckConstraint(f"status IN ({sql_list(MessageStatus)})", name="status"),
        CheckConstraint("retry_count >= 0", name="retry_count"),
        CheckConstraint(f"delivery_status IN ({sql_list(DeliveryStatus)})", name="delivery_status"),
        # receipts find their message
        Index(
            "ix_outbound_messages_provider_message_id",
            "provider",
            "provider_message_id",
            postgresql_where=_RECORDED,
            sqlite_where=_RECORDED,
        ),
        # stats per campaign (GROUP BY status), completion check, ?status= filter by id
        Index("ix_outbound_messages_campaign_status_id", "campaign_id", "status", "id"),
        # GET /campaigns/{id}/messages, newest first
        Index("ix_outbound_messages_campaign_id_id", "campaign_id", "id"),
        # the outbox relay: due, unpublished work
        Index(
            "ix_outbound_messages_outbox",
            "available_at",
            "id",
            postgresql_where=_UNPUBLISHED,
            sqlite_where=_UNPUBLISHED,
        ),
        # recovery: claims whose lease ran out (a fresh pending row is not in it)
        Index(
            "ix_outbound_messages_leases",
            "lease_expires_at",
            postgresql_where=_CLAIMED,
            sqlite_where=_CLAIMED,
        ),
        # recovery: published jobs that never came back
        Index(
            "ix_outbound_messages_published",
            "enqueued_at",
            postgresql_where=_PUBLISHED,
            sqlite_where=_PUBLISHED,
        ),
        # a campaign's next window opening (the detail)
        Index(
            "ix_outbound_messages_window_wait",
            "campaign_id",
            "window_opens_at",
            postgresql_where=_WINDOW_WAIT,
            sqlite_where=_WINDOW_WAIT,
        ),
        # GET /stats: messages finished today
        Index(
            "ix_outbound_messages_finished",
            "status",
            "updated_at",
            postgresql_where=_FINISHED,
            sqlite_where=_FINISHED,
        ),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.PENDING)
    rendered_content: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(32))
    # The attempt number: it only grows, so a job of an earlier attempt never matches.
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    # The retry_count the current attempt series began at (retry-failed starts a new one).
    series_start: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Claims on it that ran out; the first one grants an attempt beyond MAX_RETRIES.
    lease_expiries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    available_at: Mapped[datetime] = mapped_column(DateTime(), default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime())
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime())
    # The adapter that sent it and the id it answered: receipts are matched on the pair.
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    # What the receipts said; it only moves forward (statuses.DELIVERY_RANK).
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime())
    # Set while pending only because the recipient's send window is shut: it goes out
    # (available_at) when the window opens; not an attempt, not a failure.
    window_opens_at: Mapped[datetime | None] = mapped_column(DateTime())


class MessageAttempt(Base):
    """One attempt of a message and what it came to; every attempt is kept."""

    __tablename__ = "message_attempts"
    __table_args__ = (
        CheckConstraint(f"outcome IN ({sql_list(AttemptOutcome)})", name="outcome"),
        # a message's history, in order
        Index("ix_message_attempts_message_id_attempt", "message_id", "attempt"),
        # a campaign's latest attempts (the automatic pause's window)
        Index("ix_message_attempts_campaign_id_id", "campaign_id", "id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    # No foreign key: every attempt is inserted from the message row its statement has
    # just updated, and a key check per attempt (a lookup and a lock of that row) cost
    # the outcome write about 10 µs of PostgreSQL time per message. A trigger on
    # outbound_messages deletes a message's attempts with it (migration 0011).
    message_id: Mapped[int] = mapped_column(IdType)
    # The message's campaign, copied for the automatic pause's window (no foreign key
    # either: a key check would lock the campaign's row per attempt).
    campaign_id: Mapped[int] = mapped_column(IdType)
    attempt: Mapped[int] = mapped_column(Integer)  # 1 for a message's first
    at: Mapped[datetime] = mapped_column(DateTime())
    outcome: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(128))


class EarlyReceipt(Base):
    """A receipt for a provider id no message has yet: the provider answered before our
    commit of its id. Applied, then deleted, once the id is recorded (recovery's sweep)."""

    __tablename__ = "early_receipts"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_list(DeliveryStatus)})", name="status"),
        Index("ix_early_receipts_provider_message_id", "provider", "provider_message_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_message_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime())
    received_at: Mapped[datetime] = mapped_column(DateTime())


class InboundMessage(Base):
    """A message a customer sent us (a reply, STOP), stored once per provider id."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        Index(
            "ux_inbound_messages_provider_message_id",
            "provider",
            "provider_message_id",
            unique=True,
            postgresql_where=_RECORDED,
            sqlite_where=_RECORDED,
        ),
        Index("ix_inbound_messages_from_number_id", "from_number", "id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    from_number: Mapped[str] = mapped_column(String(64))
    to_number: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime())
    raw: Mapped[dict[str, object] | None] = mapped_column(JSON(none_as_null=True))


class ProviderRate(Base):
    """The shared rate limit of one channel (epoch seconds: the same arithmetic on both
    databases). `next_slot` is when the next send may go; `slowdown` divides the rate
    after a throttled answer at `slowed_at`, and wears off."""

    __tablename__ = "provider_rates"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    next_slot: Mapped[float] = mapped_column(Float, server_default="0")
    slowdown: Mapped[float] = mapped_column(Float, server_default="1")
    slowed_at: Mapped[float] = mapped_column(Float, server_default="0")
