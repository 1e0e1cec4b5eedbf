"""Engines and sessions for the store, from a URL or the settings.

SQLite gets the pragmas it needs to behave like a server database for us: foreign keys on,
WAL so readers never block the one writer, and a busy timeout instead of instant lock errors.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from exchange.settings import Settings, get_settings


def make_engine(url: str | None = None, *, settings: Settings | None = None) -> Engine:
    """An engine for `url`, or for the configured store when no URL is given."""
    settings = settings or get_settings()
    url = url or settings.store_url
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
