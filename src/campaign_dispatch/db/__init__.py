from campaign_dispatch.db.engine import (
    Database,
    create_engine,
    create_session_factory,
    sqlalchemy_url,
)

__all__ = ["Database", "create_engine", "create_session_factory", "sqlalchemy_url"]
