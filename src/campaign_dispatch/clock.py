from datetime import UTC, datetime


def utcnow() -> datetime:
    """Naive UTC: the database stores UTC without a zone on both SQLite and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)
