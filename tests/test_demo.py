"""`onceonly demo` runs the main job end to end on the embedded default, as `make demo` does."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from exchange.cli.main import app


def test_demo_runs_end_to_end_on_a_small_city(home: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--people", "3000", "--orgs", "600"])
    assert result.exit_code == 0, result.output
    assert (home / "onceonly.sqlite").exists()
    assert (home / "synth" / "ground_truth.csv").exists()
    assert "新生儿出生一件事" in result.output
    assert "batches against the synth's ground truth" in result.output
    assert "refused" in result.output and "unknown_columns" in result.output
    # every department file became a batch, and the demo's broken file was refused
    from exchange.ingest.batches import list_batches
    from exchange.store.engine import make_engine

    batches = list_batches(make_engine())
    assert len(batches) == 14
    assert sum(batch.status == "refused" for batch in batches) >= 1
    assert sum(batch.status == "accepted" for batch in batches) >= 12
    # licences were derived and verification told each case apart; the audit log is intact
    text = " ".join(result.output.split())  # as read, whatever the terminal's wrapping
    assert "licences: issued from the shared datasets" in text
    assert "a tampered copy of it: bad_signature" in text
    assert "one just revoked: revoked" in text
    assert "audit verify`: intact" in text
    # the platform's prechecks: each bundle's share of materials no longer handed over
    assert "no longer handed over" in text
    for bundle in ("新生儿出生一件事", "企业开办一件事", "购房一件事"):
        assert bundle in text
    # a lineage trace down to the Dagster run, and the summary of every capability
    assert "Dagster run" in text and "sha256" in text
    assert "every set-aside row as the ground truth says: yes" in text


def test_init_is_idempotent(home: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["init"])
    second = runner.invoke(app, ["init"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "(unchanged)" not in first.output
    assert "(unchanged)" in second.output
