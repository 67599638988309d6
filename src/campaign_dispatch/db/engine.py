"""Engine and session factory for PostgreSQL (asyncpg) and SQLite (aiosqlite)."""

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def sqlalchemy_url(database_url: str) -> str:
    """Map the operator-facing URL (`postgresql://`, `sqlite:///`) to its async driver."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+asyncpg")
    elif backend == "sqlite":
        url = url.set(drivername="sqlite+aiosqlite")
    else:
        raise ValueError(f"Unsupported DATABASE_URL backend {backend!r}: use postgresql or sqlite")
    return url.render_as_string(hide_password=False)


def create_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    url = sqlalchemy_url(database_url)
    if url.startswith("postgresql"):
        return create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            connect_args={"server_settings": {"timezone": "UTC", "jit": "off"}},
        )
    engine = create_async_engine(url, connect_args={"timeout": 30})
    _make_sqlite_safe(engine)
    return engine


def _make_sqlite_safe(engine: AsyncEngine) -> None:
    # SQLite upgrades a deferred read transaction to a write lock lazily and fails at once
    # when another writer holds it; BEGIN IMMEDIATE takes the lock up front and lets
    # busy_timeout do the waiting instead.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "foreign_keys=ON",
            "busy_timeout=30000",
            "synchronous=NORMAL",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
