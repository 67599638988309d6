"""Fresh PostgreSQL databases for the fault tests and the soak: one migrated and seeded
template, cloned per scenario (a clone takes a fraction of a second; a migration and a
seed take seconds)."""

import subprocess
import uuid

import asyncpg
from sqlalchemy.engine import make_url

from tests.faults.processes import entry_point, service_pythonpath


def url_for(admin_url: str, name: str) -> str:
    return (
        make_url(admin_url)
        .set(drivername="postgresql", database=name)
        .render_as_string(hide_password=False)
    )


async def admin(admin_url: str, sql: str) -> None:
    connection = await asyncpg.connect(url_for(admin_url, make_url(admin_url).database or ""))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def create(admin_url: str, prefix: str, template: str | None = None) -> str:
    """A new database's name (a clone of `template` if given)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    await admin(admin_url, f'CREATE DATABASE "{name}"{clause}')
    return name


async def drop(admin_url: str, name: str) -> None:
    await admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(database_url: str) -> None:
    """`campaign-dispatch migrate`, as a deployment runs it."""
    subprocess.run(
        [entry_point(), "migrate"],
        env={
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": service_pythonpath(),
        },
        cwd="/",  # no stray .env file is read
        check=True,
        capture_output=True,
    )


async def seed_customers(database_url: str, count: int) -> None:
    """Customers 1..count (ids in that order), some without a last name."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            """INSERT INTO customers (phone, first_name, last_name, location, preferred_product,
                                      created_at, updated_at)
               SELECT '+2547' || lpad(g::text, 8, '0'), 'Name' || g,
                      CASE WHEN g % 7 = 0 THEN NULL ELSE 'Last' || g END,
                      'Nairobi', 'Running Shoes', now(), now()
               FROM generate_series(1, $1) AS g""",
            count,
        )
        await connection.execute("VACUUM ANALYZE customers")
    finally:
        await connection.close()


async def template(admin_url: str, prefix: str, customers: int) -> str:
    """A migrated database with `customers` customers, to clone from."""
    name = await create(admin_url, f"{prefix}_template")
    try:
        migrate(url_for(admin_url, name))
        await seed_customers(url_for(admin_url, name), customers)
    except BaseException:
        await drop(admin_url, name)
        raise
    return name
