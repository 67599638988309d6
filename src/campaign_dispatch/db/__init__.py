from campaign_dispatch.db.engine import create_engine, create_session_factory, sqlalchemy_url

__all__ = ["create_engine", "create_session_factory", "sqlalchemy_url"]
