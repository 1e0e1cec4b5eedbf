"""The store is created and upgraded by Alembic alone, idempotently, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect

from exchange.settings import DEFAULT_SECRET, InsecureSettingsError, Settings
from exchange.store.migrate import current_revision, head_revision, upgrade
from exchange.store.registry import metadata


def test_upgrade_creates_every_declared_table_and_is_idempotent(engine: Engine) -> None:
    assert upgrade(engine) == head_revision()
    assert upgrade(engine) == head_revision()  # a second run changes nothing and does not fail
    tables = set(inspect(engine).get_table_names())
    assert set(metadata.tables) <= tables
    assert current_revision(engine) == head_revision()


def test_migrations_match_the_models(store: Engine) -> None:
    """Alembic's autogenerate finds nothing to do: the models and the migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with store.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_tables_are_prefixed_by_their_domain() -> None:
    domains = {"catalog", "exchange", "licences", "audit", "pipelines"}
    assert all(name.split("_", 1)[0] in domains for name in metadata.tables)


@pytest.mark.parametrize("environment", ["test", "production"])
def test_refuses_the_default_secret_outside_development(environment: str) -> None:
    with pytest.raises(InsecureSettingsError, match="ONCEONLY_SECRET"):
        Settings(environment=environment, secret=DEFAULT_SECRET)
    assert Settings(environment=environment, secret="a-real-secret").environment == environment


def test_database_url_switches_the_store(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("ONCEONLY_HOME", str(tmp_path))
    assert Settings().store_url.startswith("sqlite:///")
    monkeypatch.setenv("ONCEONLY_DATABASE_URL", "postgresql+psycopg://127.0.0.1/x")
    assert Settings().store_url == "postgresql+psycopg://127.0.0.1/x"
