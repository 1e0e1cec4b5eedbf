"""The central SQL store: SQLite by default, PostgreSQL through the same SQLAlchemy code."""

from exchange.store.base import Base
from exchange.store.engine import make_engine, session_factory

__all__ = ["Base", "make_engine", "session_factory"]
