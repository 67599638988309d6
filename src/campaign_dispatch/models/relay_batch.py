from datetime import datetime

from sqlalchemy import DateTime
from sqlalchemy.orm import Mapped, mapped_column

from campaign_dispatch.models.base import Base, IdType


class RelayBatch(Base):
    """A batch of messages a relay took to publish and has not yet seen confirmed.

    Either messages the relay marked published, which carry the batch's `taken_at` as
    their `enqueued_at` (the range columns are NULL), or a piece of an outbox range: the
    campaign's messages with ids `first_id`..`last_id` born with `enqueued_at = stamp`.
    A relay deletes its row once the broker confirmed the batch (or after giving it
    back); a row past `expires_at` belongs to a relay that died in between, and the
    recovery sweep gives the batch back (repositories/outbox.py).
    """

    __tablename__ = "relay_batches"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(DateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(), nullable=False, index=True)
    campaign_id: Mapped[int | None] = mapped_column(IdType)
    stamp: Mapped[datetime | None] = mapped_column(DateTime())
    first_id: Mapped[int | None] = mapped_column(IdType)
    last_id: Mapped[int | None] = mapped_column(IdType)


class OutboxRange(Base):
    """Messages of one send still to publish, without a write to each of them.

    A send on PostgreSQL inserts its messages already stamped `enqueued_at = stamp`
    and records here the ids they span; a relay publishes them piece by piece (the
    campaign's pending messages in `next_id`..`last_id` that still carry the stamp),
    moving `next_id` on, and deletes the range once it is through. A message that moved
    on meanwhile (claimed, parked by a pause, cancelled, given back to the outbox by
    the recovery of lost jobs) no longer carries the stamp and is passed by.
    """

    __tablename__ = "outbox_ranges"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(IdType, nullable=False)
    stamp: Mapped[datetime] = mapped_column(DateTime(), nullable=False)
    next_id: Mapped[int] = mapped_column(IdType, nullable=False)
    last_id: Mapped[int] = mapped_column(IdType, nullable=False)
