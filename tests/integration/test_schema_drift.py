"""The models and the migrations describe one schema.

The service's queries are built from the models; the database is built by the
migrations. A column, index or constraint in one and not the other works in whichever
test builds its tables the same way, and fails in production. Alembic's comparison of
the migrated database with the models must find nothing.
"""

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData

from campaign_dispatch.db import create_engine
from campaign_dispatch.models import Base


def _differences(connection: Connection, metadata: MetaData = Base.metadata) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_the_migrated_schema_is_the_models(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == []


async def test_the_comparison_sees_a_missing_column(database_url: str) -> None:
    models = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(models)
    customers = models.tables["customers"]
    customers._columns.remove(customers.c.timezone)  # models that lack a migrated column
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences, models)
    finally:
        await engine.dispose()
    assert [(d[0], d[2], d[3].name) for d in differences] == [
        ("remove_column", "customers", "timezone")
    ]
