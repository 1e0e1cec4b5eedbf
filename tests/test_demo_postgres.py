"""The demo's core flow on PostgreSQL: the same program, the store a real PostgreSQL database.

The store is reached through ``ONCEONLY_DATABASE_URL``, as a deployment would, and not through
the private schema of conftest's ``store`` fixture: the Dagster jobs the demo runs open their own
engines from the settings, so only a whole database named in the settings reaches them. Each run
gets a fresh database on the server ``ONCEONLY_TEST_POSTGRES_URL`` names, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from typer.testing import CliRunner

from exchange.cli.main import app
from exchange.settings import get_settings

POSTGRES_URL = os.environ.get("ONCEONLY_TEST_POSTGRES_URL")


@pytest.fixture
def postgres_store(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, empty PostgreSQL database set as the store; its URL. Dropped after the test."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL demo skipped: ONCEONLY_TEST_POSTGRES_URL is not set")
    name = f"onceonly_demo_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        pytest.skip(
            f"PostgreSQL demo skipped: {make_url(POSTGRES_URL)} did not answer "
            f"({exc.__class__.__name__})"  # the URL as SQLAlchemy shows it: password hidden
        )
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("ONCEONLY_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        yield url
    finally:
        get_settings.cache_clear()
        with admin.connect() as conn:
            # the demo's engines may still hold pooled connections: end them, then drop
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


@pytest.mark.postgres
def test_demo_runs_end_to_end_with_the_store_on_postgres(postgres_store: str, home: Path) -> None:
    assert get_settings().store_url == postgres_store
    result = CliRunner().invoke(app, ["demo", "--people", "2000", "--orgs", "400"])
    assert result.exit_code == 0, result.output
    text_out = " ".join(result.output.split())  # as read, whatever the terminal's wrapping
    assert "batches against the synth's ground truth" in text_out
    assert "refused" in text_out and "unknown_columns" in text_out
    assert "licences: issued from the shared datasets" in text_out
    assert "a tampered copy of it: bad_signature" in text_out
    assert "one just revoked: revoked" in text_out
    assert "audit verify`: intact" in text_out
    assert "no longer handed over" in text_out
    for bundle in ("新生儿出生一件事", "企业开办一件事", "购房一件事"):
        assert bundle in text_out

    # Nothing went to a SQLite store in the home: the files, Parquet and keys are there, the
    # store is not (Dagster's own instance storage, under home/dagster, is a separate matter).
    assert (home / "synth" / "ground_truth.csv").exists()
    assert not (home / "onceonly.sqlite").exists()
    stray = [p for p in home.rglob("*.sqlite*") if "dagster" not in p.relative_to(home).parts]
    assert stray == []

    # The data really is in that PostgreSQL database, read back on a connection of our own.
    engine = create_engine(postgres_store)
    try:
        assert engine.dialect.name == "postgresql"
        with engine.connect() as conn:
            statuses = dict(
                conn.execute(
                    text("SELECT status, count(*) FROM exchange_batch GROUP BY status")
                ).all()
            )
        assert sum(statuses.values()) == 14
        assert statuses.get("refused", 0) >= 1
        assert statuses.get("accepted", 0) >= 12
        assert _count(engine, "exchange_record") > 2000  # residents alone, across datasets
        assert _count(engine, "exchange_dataset_version") >= 12
        assert _count(engine, "licences_licence") > 0
        assert _count(engine, "licences_key") > 0
        assert _count(engine, "exchange_sharing_request") > 0
        # every publication, licence and lookup left an entry, and a checkpoint was signed
        entries = _count(engine, "audit_entry")
        assert entries > _count(engine, "licences_licence")
        with engine.connect() as conn:
            head = conn.execute(text("SELECT size FROM audit_head")).scalar_one()
            signed = conn.execute(text("SELECT max(tree_size) FROM audit_checkpoint")).scalar_one()
        assert head == entries
        assert signed is not None and 0 < signed <= entries
        assert f"{signed:,} entries" in text_out
    finally:
        engine.dispose()
