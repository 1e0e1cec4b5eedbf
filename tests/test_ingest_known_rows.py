"""A re-sent full extract: rows the previous batch staged word for word are looked up, not
validated again (`exchange.ingest.known`), on SQLite and PostgreSQL.

The reference is the same sequence of files in a second store with the look-up switched off:
both must set aside the same rows for the same reasons, store the same records with the same
lineage (the file and version each record really came from) and keep the same history.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from test_ingest_batches import CATALOGUE, HOUSEHOLD, ID, NAME, _write, household_rows, ready

from catalog.sync import sync_catalogue
from exchange.ingest import batches as batches_module
from exchange.ingest.batches import process_batch, register_file
from exchange.ingest.models import Batch, DatasetVersion, Record, RecordHistory
from exchange.settings import Settings

__all__ = ["household_rows", "ready"]  # fixtures used here

GENDER, BIRTH = "性别", "出生日期"
#: What a record is, whichever store holds it (batch ids and times differ between stores).
COMPARED = ("subject_key", "data", "record_hash", "source_row", "version_from", "file_sha256")


def _files(rows: list[dict[str, str]], folder: Path) -> list[Path]:
    """Two days of the register. Day one: three bad rows and an identical copy. Day two: five
    subjects renamed, one bad row sent again unchanged, one bad row changed but still bad, one
    bad row corrected, ten subjects gone, and an unchanged row whose key also appears on a
    different row (a conflict between a known row and an unknown one)."""
    day_one = [dict(row) for row in rows]
    day_one[1][GENDER] = "?"
    day_one[2][BIRTH] = "2001-02-30"
    day_one[3][NAME] = ""
    day_one.append(dict(day_one[10]))
    day_two = [dict(row) for row in day_one[:-20]]
    for row in day_two[20:25]:
        row[NAME] += "改"
    day_two[2][BIRTH] = "2001-02-31"  # still bad, differently
    day_two[3][NAME] = rows[3][NAME]  # corrected
    conflicting = dict(day_two[30])
    conflicting[NAME] += "乙"
    day_two.append(conflicting)
    return [_write(folder / "day1.csv", day_one), _write(folder / "day2.csv", day_two)]


def _publish(engine: Engine, settings: Settings, path: Path, catalogue=CATALOGUE):
    batch, _ = register_file(engine, settings, catalogue.dataset(HOUSEHOLD.code), path)
    return process_batch(engine, settings, catalogue, batch.id, run_id="test-run")


def _records(engine: Engine, model: type) -> list[tuple]:
    table = model.__table__  # type: ignore[attr-defined]
    columns = [table.c[name] for name in COMPARED]
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(select(*columns).order_by(*columns[:1]))]


def _outcome(engine: Engine, settings: Settings, paths: list[Path]) -> dict:
    results = [_publish(engine, settings, path) for path in paths]
    return {
        "counts": [(r.rows_read, r.rows_accepted, r.rows_quarantined, r.version) for r in results],
        "quarantine": [Path(r.quarantine_csv).read_bytes() for r in results],  # type: ignore[arg-type]
        "records": _records(engine, Record),
        "history": _records(engine, RecordHistory),
    }


def _stats(engine: Engine, batch_id: str) -> dict:
    return batches_module.get_batch(engine, batch_id).stats or {}


def test_a_resent_extract_has_the_outcome_of_validating_every_row(
    ready: tuple[Engine, Settings],
    household_rows: list[dict[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, settings = ready
    paths = _files(household_rows, tmp_path)
    looked_up = _outcome(engine, settings, paths)

    # the reference: the same files again, the store emptied of them, nothing looked up
    with engine.begin() as connection:
        for model in (RecordHistory, Record, DatasetVersion, Batch):
            connection.execute(model.__table__.delete())  # type: ignore[attr-defined]
    monkeypatch.setattr(batches_module, "_known_rows", lambda *_args: {})
    reference_settings = Settings(home=tmp_path / "reference")
    reference_settings.ensure_home()
    validated = _outcome(engine, reference_settings, paths)

    assert looked_up["counts"] == validated["counts"]
    assert looked_up["quarantine"] == validated["quarantine"]
    assert looked_up["records"] == validated["records"]
    assert looked_up["history"] == validated["history"]


def test_known_rows_are_counted_and_keep_their_lineage(
    ready: tuple[Engine, Settings], household_rows: list[dict[str, str]], tmp_path: Path
) -> None:
    engine, settings = ready
    first_path, second_path = _files(household_rows, tmp_path)
    first = _publish(engine, settings, first_path)
    second = _publish(engine, settings, second_path)
    stats = _stats(engine, second.batch_id)
    # day two's rows that day one staged word for word: its 581 rows from day one but the 5
    # renamed, the 2 bad ones and the corrected one (the conflicting newcomer is new)
    assert stats["rows_known"] == 581 - 5 - 3
    assert stats["reasons"] == {"bad_date": 1, "bad_enum": 1, "duplicate_conflict": 2}
    by_key = {r[0]: r for r in _records(engine, Record)}
    unchanged = household_rows[40][ID]
    assert by_key[unchanged][4:] == (1, first.file_sha256)  # version 1, day one's file
    renamed = household_rows[20][ID]
    assert by_key[renamed][4:] == (2, second.file_sha256)
    assert household_rows[30][ID] not in by_key  # both rows of the conflict set aside


def test_a_catalogue_change_validates_every_row_again(
    ready: tuple[Engine, Settings], household_rows: list[dict[str, str]], tmp_path: Path
) -> None:
    engine, settings = ready
    first_path, second_path = _files(household_rows, tmp_path)
    _publish(engine, settings, first_path)
    # the gender enum loses a value: rows with it were accepted yesterday, not today (and the
    # dataset now accepts a file however many rows it sets aside)
    dropped = household_rows[50][GENDER]
    fields = tuple(
        f.model_copy(update={"values": tuple(v for v in f.values if v != dropped)})
        if f.name == "gender"
        else f
        for f in HOUSEHOLD.fields
    )
    changed = HOUSEHOLD.model_copy(update={"fields": fields, "max_quarantine_rate": 1.0})
    datasets = tuple(changed if d.code == HOUSEHOLD.code else d for d in CATALOGUE.datasets)
    catalogue = CATALOGUE.model_copy(update={"datasets": datasets})
    sync_catalogue(engine, catalogue)
    second = _publish(engine, settings, second_path, catalogue)
    stats = _stats(engine, second.batch_id)
    assert stats["rows_known"] == 0
    with_dropped = sum(row[GENDER] == dropped for row in household_rows[:-20])
    assert stats["reasons"]["bad_enum"] == with_dropped + 1


def test_known_rows_take_their_base_values_when_a_version_was_committed_meanwhile(
    ready: tuple[Engine, Settings],
    household_rows: list[dict[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Day two is staged against version 1 (its known rows point at that snapshot), then day
    three, which renames subjects day two repeats unchanged, is committed first: day two's
    apply rebuilds on day three's version and must give those subjects day one's values back,
    as validating every row would."""
    engine, settings = ready
    day1, day2 = _files(household_rows, tmp_path)
    three = [dict(row) for row in household_rows[:-20]]
    for row in three[40:50]:
        row[NAME] += "丙"
    day3 = _write(tmp_path / "day3.csv", three)
    real = batches_module.apply_staged

    def scenario(home: Settings) -> dict:
        results = [_publish(engine, home, day1)]

        def meanwhile(*args: object, **kwargs: object) -> object:
            monkeypatch.setattr(batches_module, "apply_staged", real)
            results.append(_publish(engine, home, day3))
            return real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(batches_module, "apply_staged", meanwhile)
        results.append(_publish(engine, home, day2))
        return {
            "versions": [r.version for r in results],
            "known": [_stats(engine, r.batch_id).get("rows_known") for r in results],
            "records": _records(engine, Record),
            "history": _records(engine, RecordHistory),
        }

    looked_up = scenario(settings)
    assert looked_up["versions"] == [1, 2, 3]  # day one, day three, then day two
    assert looked_up["known"][2] > 0
    by_key = {r[0]: r for r in looked_up["records"]}
    assert by_key[household_rows[45][ID]][1]["name"] == household_rows[45][NAME]

    with engine.begin() as connection:
        for model in (RecordHistory, Record, DatasetVersion, Batch):
            connection.execute(model.__table__.delete())  # type: ignore[attr-defined]
    monkeypatch.setattr(batches_module, "_known_rows", lambda *_args: {})
    reference = Settings(home=tmp_path / "reference")
    reference.ensure_home()
    validated = scenario(reference)
    assert looked_up["records"] == validated["records"]
    assert looked_up["history"] == validated["history"]
