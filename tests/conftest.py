"""Shared fixtures: every test gets its own home, and store tests run on SQLite and PostgreSQL.

PostgreSQL comes from ``ONCEONLY_TEST_POSTGRES_URL`` (``.ci/run`` creates a fresh database and
sets it). Each test gets its own schema there, so tests never share state. When the variable is
unset or the server does not answer, the PostgreSQL variants are skipped with a reason that
``pytest -ra`` prints: never silently.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from exchange.settings import Settings, get_settings
from exchange.store.engine import make_engine
from exchange.store.migrate import upgrade

POSTGRES_URL = os.environ.get("ONCEONLY_TEST_POSTGRES_URL")

# The CLI's Rich consoles take their width from COLUMNS when first imported; a wide one for the
# whole session keeps long identifiers whole in the output the tests read, whichever test
# module imports the CLI first.
os.environ.setdefault("COLUMNS", "200")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh ONCEONLY_HOME for this test, with the settings cache cleared around it."""
    home = tmp_path / "home"
    monkeypatch.setenv("ONCEONLY_HOME", str(home))
    for name in (
        "ONCEONLY_DATABASE_URL",
        "DAGSTER_HOME",
        "ONCEONLY_DAGSTER_DIR",
        "ONCEONLY_DAGSTER_LOGS_DIR",
    ):
        monkeypatch.delenv(name, raising=False)  # and restored after the test
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


@pytest.fixture
def settings(home: Path) -> Settings:
    return get_settings()


def _postgres_engine() -> Iterator[Engine]:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests skipped: ONCEONLY_TEST_POSTGRES_URL is not set")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        admin.dispose()
        pytest.skip(
            f"PostgreSQL tests skipped: {POSTGRES_URL} did not answer ({exc.__class__.__name__})"
        )
    engine = create_engine(
        POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"}, pool_pre_ping=True
    )
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, home: Path) -> Iterator[Engine]:
    """An empty store: SQLite in the test's home, or a private schema on PostgreSQL."""
    if request.param == "postgresql":
        yield from _postgres_engine()
        return
    engine = make_engine(f"sqlite:///{home / 'store.sqlite'}")
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: Engine) -> Engine:
    """A store migrated to the newest schema with `alembic upgrade head`."""
    upgrade(engine)
    return engine
