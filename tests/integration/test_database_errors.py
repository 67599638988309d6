"""A failed statement's logged error never carries its parameters (customers' data)."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from campaign_dispatch.db import Database


async def test_statement_errors_hide_their_parameters(database_url):
    database = Database.connect(database_url, pool_size=1)
    try:
        with pytest.raises(DBAPIError) as caught:
            async with database.sessions.begin() as session:
                await session.execute(
                    text("INSERT INTO customers (phone, first_name) VALUES (:phone, :name)"),
                    {"phone": None, "name": "Wanjiru Secret-Surname"},
                )
    finally:
        await database.dispose()
    assert "Secret-Surname" not in str(caught.value)
    assert "hidden" in str(caught.value)  # SQLAlchemy says the parameters were left out
