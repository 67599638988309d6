from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from campaign_dispatch.models.base import Base, IdType, Timestamped


class Customer(Timestamped, Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    location: Mapped[str | None] = mapped_column(String(200))
    preferred_product: Mapped[str | None] = mapped_column(String(200))
