"""A department's batches end to end through `exchange.ingest.batches`, on SQLite and PostgreSQL:
full versions, a re-sent file, a delta, as-of reads, and a crash that leaves the store intact."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine

from catalog.loader import load_catalogue
from catalog.sync import sync_catalogue
from exchange.ingest import batches as batches_module
from exchange.ingest.batches import process_batch, register_file
from exchange.ingest.history import dataset_versions, record_as_of
from exchange.settings import Settings
from exchange.synth import SynthOptions, synthesise

CATALOGUE = load_catalogue()
HOUSEHOLD = CATALOGUE.dataset("household_registration")
ID, NAME = "公民身份号码", "姓名"


@pytest.fixture(scope="module")
def household_rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, str]]:
    """The clean rows of a small synthetic household register (no injected errors)."""
    out = tmp_path_factory.mktemp("city")
    synthesise(
        SynthOptions(out=out, people=600, organisations=100, error_rate=0.0, seed=11),
        catalogue=CATALOGUE,
    )
    path = out / "psb" / "household_registration" / "household_registration.csv"
    with path.open(encoding="gbk", newline="") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, rows: list[dict[str, str]], *, operation: list[str] | None = None) -> Path:
    columns = list(rows[0])
    with path.open("w", encoding="gbk", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns + (["操作类型"] if operation else []))
        for index, row in enumerate(rows):
            writer.writerow([row[c] for c in columns] + ([operation[index]] if operation else []))
    return path


@pytest.fixture
def ready(store: Engine, home: Path) -> tuple[Engine, Settings]:
    sync_catalogue(store, CATALOGUE)
    settings = Settings(home=home)
    settings.ensure_home()
    return store, settings


def _publish(ready: tuple[Engine, Settings], path: Path, mode: str = "full"):
    engine, settings = ready
    batch, created = register_file(engine, settings, HOUSEHOLD, path, mode=mode)
    return process_batch(engine, settings, CATALOGUE, batch.id, run_id="test-run"), created


def test_full_extracts_make_versions_and_history(
    ready: tuple[Engine, Settings], household_rows: list[dict[str, str]], tmp_path: Path
) -> None:
    engine, _ = ready
    first, _ = _publish(ready, _write(tmp_path / "v1.csv", household_rows))
    assert (first.status, first.version, first.rows_quarantined) == ("accepted", 1, 0)

    renamed = [dict(row) for row in household_rows[:-10]]  # ten subjects leave the register
    for row in renamed[:5]:
        row[NAME] = row[NAME] + "改"
    second, _ = _publish(ready, _write(tmp_path / "v2.csv", renamed))
    assert second.version == 2
    info = dataset_versions(engine, HOUSEHOLD.code)[-1]
    assert (info.added, info.changed, info.ended) == (0, 5, 10)

    subject = household_rows[0][ID]
    assert (
        record_as_of(engine, HOUSEHOLD.code, subject, version=1).data["name"]
        == (household_rows[0][NAME])
    )
    now = record_as_of(engine, HOUSEHOLD.code, subject)
    assert now.data["name"] == household_rows[0][NAME] + "改"
    assert (now.batch_id, now.source_row, now.run_id) == (second.batch_id, 1, "test-run")
    gone = household_rows[-1][ID]
    assert record_as_of(engine, HOUSEHOLD.code, gone) is None
    assert record_as_of(engine, HOUSEHOLD.code, gone, version=1) is not None


def test_the_same_file_twice_changes_nothing(
    ready: tuple[Engine, Settings], household_rows: list[dict[str, str]], tmp_path: Path
) -> None:
    path = _write(tmp_path / "v1.csv", household_rows)
    first, created = _publish(ready, path)
    again, created_again = _publish(ready, path)
    assert created and not created_again
    assert again.already_known and again.batch_id == first.batch_id
    assert [v.version for v in dataset_versions(ready[0], HOUSEHOLD.code)] == [1]


def test_a_delta_upserts_and_deletes(
    ready: tuple[Engine, Settings], household_rows: list[dict[str, str]], tmp_path: Path
) -> None:
    engine, _ = ready
    _publish(ready, _write(tmp_path / "v1.csv", household_rows))
    changed = dict(household_rows[1], **{NAME: "新名字"})
    delta = _write(
        tmp_path / "d.delta.csv", [household_rows[0], changed], operation=["删除", "修改"]
    )
    outcome, _ = _publish(ready, delta, mode="delta")
    assert (outcome.status, outcome.version) == ("accepted", 2)
    assert record_as_of(engine, HOUSEHOLD.code, household_rows[0][ID]) is None
    assert record_as_of(engine, HOUSEHOLD.code, household_rows[1][ID]).data["name"] == "新名字"
    assert dataset_versions(engine, HOUSEHOLD.code)[-1].row_count == len(household_rows) - 1


def test_a_crash_while_applying_leaves_the_previous_version_and_the_rerun_succeeds(
    ready: tuple[Engine, Settings],
    household_rows: list[dict[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, settings = ready
    _publish(ready, _write(tmp_path / "v1.csv", household_rows))
    changed = [dict(row, **{NAME: "甲"}) if i < 3 else row for i, row in enumerate(household_rows)]
    batch, _ = register_file(engine, settings, HOUSEHOLD, _write(tmp_path / "v2.csv", changed))
    real_apply = batches_module.apply_staged

    def crash_after_snapshot(*args, **kwargs):
        def checkpoint(stage: str) -> None:
            if stage == "snapshot":
                raise OSError("power cut")

        return real_apply(*args, **kwargs, _checkpoint=checkpoint)

    monkeypatch.setattr(batches_module, "apply_staged", crash_after_snapshot)
    with pytest.raises(OSError, match="power cut"):
        process_batch(engine, settings, CATALOGUE, batch.id)
    assert batches_module.get_batch(engine, batch.id).status == "failed"
    assert [v.version for v in dataset_versions(engine, HOUSEHOLD.code)] == [1]
    assert record_as_of(engine, HOUSEHOLD.code, household_rows[0][ID]).data["name"] != "甲"

    monkeypatch.setattr(batches_module, "apply_staged", real_apply)
    rerun = process_batch(engine, settings, CATALOGUE, batch.id)
    assert (rerun.status, rerun.version) == ("accepted", 2)
    assert record_as_of(engine, HOUSEHOLD.code, household_rows[0][ID]).data["name"] == "甲"
