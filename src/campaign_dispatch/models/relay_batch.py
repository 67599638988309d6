from datetime import datetime

from sqlalchemy import DateTime
from sqlalchemy.orm import Mapped, mapped_column

from campaign_dispatch.models.base import Base, IdType


class RelayBatch(Base):
    """A batch of messages a relay marked published and has not yet seen confirmed.

    The messages carry the batch's `taken_at` as their `enqueued_at`. A relay deletes its
    row once the broker confirmed the batch (or after giving the batch back); a row past
    `expires_at` belongs to a relay that died between the mark and the confirms, and the
    recovery sweep makes its messages unpublished again (repositories/outbox.py).
    """

    __tablename__ = "relay_batches"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(DateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(), nullable=False, index=True)
