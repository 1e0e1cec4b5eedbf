"""`onceonly synth` through the Typer app, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from exchange.cli.main import app

runner = CliRunner()


def test_synth_writes_the_city_and_summarises_it(tmp_path: Path) -> None:
    out = tmp_path / "city"
    result = runner.invoke(
        app, ["synth", "--people", "500", "--orgs", "60", "--out", str(out), "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 3 and manifest["people"] == 500 and manifest["organisations"] == 60
    assert all((out / f["path"]).is_file() for f in manifest["files"])
    assert (out / "ground_truth.parquet").is_file() and (out / "ground_truth.csv").is_file()
    for written in manifest["files"]:
        assert written["dataset"] in result.stdout
    assert "household_registration" in result.stdout
    total = sum(manifest["errors"].values())
    assert "total" in result.stdout and f"{total:,}" in result.stdout


def test_synth_defaults_to_the_home(home: Path) -> None:
    result = runner.invoke(app, ["synth", "--people", "300", "--orgs", "30", "--error-rate", "0"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((home / "synth" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["error_rate"] == 0 and manifest["errors"] == {}


def test_synth_refuses_an_impossible_rate(tmp_path: Path) -> None:
    result = runner.invoke(app, ["synth", "--error-rate", "2", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "--error-rate must be between 0 and 0.5 (got 2.0)" in result.output
    assert not (tmp_path / "manifest.json").exists()
