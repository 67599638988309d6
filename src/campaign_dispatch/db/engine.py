"""The database a process uses: engine and session factories, PostgreSQL (asyncpg) or SQLite."""

import time
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from campaign_dispatch.errors import DatabaseUnreachable

# What opening a connection raises when the server is down or refuses us. SQLAlchemy
# wraps only the driver's query-time errors; these reach us raw from the connect call.
_CONNECT_FAILURES = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
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
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            hide_parameters=True,  # customers' names and numbers stay out of logged errors
            connect_args={"server_settings": {"timezone": "UTC", "jit": "off"}},
        )
        _ping_when_idle(engine)
    else:
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        _make_sqlite_safe(engine)

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except _CONNECT_FAILURES as exc:
            raise DatabaseUnreachable(f"{type(exc).__name__}: {exc}") from exc

    return engine


# A pooled connection idle for longer than this is pinged before it is handed out.
PING_IDLE_SECONDS = 1.0


def _ping(dbapi_connection: Any) -> None:
    dbapi_connection.ping()


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection before use only if it sat idle for PING_IDLE_SECONDS.

    SQLAlchemy's pool_pre_ping pings at every checkout: on PostgreSQL, BEGIN, an empty
    statement and ROLLBACK, three round trips before each of the worker's statements
    (about 3 % of its CPU, and the lane waits for them). A connection checked in less
    than a second ago was alive then; if the server died since, the statement fails as
    a statement cut off mid-flight would, the pool drops its connections (SQLAlchemy
    invalidates the pool on a disconnect error), and the caller's retry gets a new one.
    A connection that sat idle, as the API's do between requests and anyone's do after
    a restart of the server, is pinged as before, and replaced when dead.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < PING_IDLE_SECONDS:
            return  # just opened, or just used
        try:
            _ping(dbapi_connection)
        except Exception as exc:  # the pool opens a new connection and tries that
            raise DisconnectionError(f"stale pooled connection: {exc!r}") from exc


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


@dataclass(frozen=True)
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    """Transactions: `async with database.sessions.begin() as session`."""
    statement_sessions: async_sessionmaker[AsyncSession]
    """For a step that is one atomic statement. On PostgreSQL every statement commits on
    its own (AUTOCOMMIT): no BEGIN and COMMIT round trips on the worker's hot path.
    SQLite keeps its transaction, which takes the write lock up front (BEGIN IMMEDIATE)."""

    @classmethod
    def connect(cls, database_url: str, *, pool_size: int = 10) -> "Database":
        engine = create_engine(database_url, pool_size=pool_size)
        statements = engine
        if engine.dialect.name == "postgresql":
            statements = engine.execution_options(isolation_level="AUTOCOMMIT")
        return cls(engine, create_session_factory(engine), create_session_factory(statements))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
