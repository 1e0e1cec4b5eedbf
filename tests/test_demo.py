"""`onceonly demo` runs the main job end to end on the embedded default, as `make demo` does."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from exchange.cli.main import app


def test_demo_runs_end_to_end_on_a_small_city(home: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--people", "1500", "--orgs", "300"])
    assert result.exit_code == 0, result.output
    assert (home / "onceonly.sqlite").exists()
    assert (home / "synth" / "ground_truth.csv").exists()
    assert "新生儿出生一件事" in result.output


def test_init_is_idempotent(home: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["init"])
    second = runner.invoke(app, ["init"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "(unchanged)" not in first.output
    assert "(unchanged)" in second.output
