"""A staged batch becomes the dataset's next version: snapshot, diff, serving tables, atomically.

Staged files are built here directly with pyarrow, following the staged-file contract in
notes/ingest.md (staging itself is tested with its own module), so these tests pin down exactly
what the versions step reads. Every test runs on SQLite and on PostgreSQL (the `store` fixture).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from stdnum.cn import ric

from catalog.schema import (
    Dataset,
    DatasetField,
    DatasetKey,
    FieldType,
    FileFormat,
    Frequency,
    KeyKind,
    OpenClass,
    SharingClass,
)
from exchange.ingest.history import dataset_versions, record_as_of, record_history
from exchange.ingest.models import Batch, Record, RecordHistory
from exchange.ingest.snapshots import StagedFileError
from exchange.ingest.versions import VersionResult, apply_staged, register_batch

SHANGHAI = ZoneInfo("Asia/Shanghai")
T1 = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
T2 = T1 + timedelta(days=1)
T3 = T2 + timedelta(days=1)


def person_dataset(code: str = "test_register") -> Dataset:
    """A dataset with one field of every staged type, keyed by the resident ID number."""
    return Dataset(
        code=code,
        name="测试登记",
        name_en="Test register",
        description="A register with one field of every type.",
        department="psb",
        key=DatasetKey(kind=KeyKind.RESIDENT, field="id_number"),
        fields=(
            DatasetField(name="id_number", title="公民身份号码", type=FieldType.RESIDENT_ID),
            DatasetField(name="name", title="姓名", type=FieldType.STRING, required=True),
            DatasetField(name="birth_date", title="出生日期", type=FieldType.DATE),
            DatasetField(name="children", title="子女数", type=FieldType.INTEGER),
            DatasetField(name="income", title="年收入", type=FieldType.DECIMAL),
            DatasetField(name="married", title="已婚", type=FieldType.BOOLEAN),
            DatasetField(name="status", title="状态", type=FieldType.ENUM, values=("在册", "迁出")),
        ),
        format=FileFormat.CSV,
        update_frequency=Frequency.DAILY,
        max_quarantine_rate=0.05,
        sharing_class=SharingClass.UNCONDITIONAL,
        open_class=OpenClass.OPEN,
    )


DATASET = person_dataset()
ARROW_TYPES = {
    FieldType.DATE: pa.date32(),
    FieldType.INTEGER: pa.int64(),
    FieldType.DECIMAL: pa.decimal128(38, 6),
    FieldType.BOOLEAN: pa.bool_(),
}


def key(number: int) -> str:
    """A valid resident ID number (check character from python-stdnum), distinct per `number`."""
    body = f"33010619900101{number:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum ignores the last character


def person(number: int, name: str | None = None, **fields: Any) -> dict[str, Any]:
    record = {
        "id_number": key(number),
        "name": name or f"居民{number}",
        "birth_date": date(1990, 1, 1),
        "children": number % 3,
        "income": Decimal("52000.50") + number,
        "married": number % 2 == 0,
        "status": "在册",
    }
    return record | fields


def stored_data(record: dict[str, Any]) -> dict[str, Any]:
    """What the store should hold as JSON: dates ISO, decimals as six-decimal strings."""
    converted = {}
    for name, value in record.items():
        if isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = f"{value:.6f}"
        converted[name] = value
    return converted


def write_staged(
    path: Path,
    dataset: Dataset,
    records: Sequence[dict[str, Any]],
    *,
    ops: Sequence[str] | None = None,
    rows: Sequence[int] | None = None,
) -> Path:
    """A staged Parquet file as the contract describes it, rows in the order given."""
    key_field = dataset.key.field
    columns: dict[str, pa.Array] = {
        "subject_key": pa.array([r[key_field] for r in records], pa.string())
    }
    for field in dataset.fields:
        kind = ARROW_TYPES.get(field.type, pa.string())
        columns[field.name] = pa.array([r.get(field.name) for r in records], kind)
    columns["_row"] = pa.array(rows or range(1, len(records) + 1), pa.int64())
    columns["_hash"] = pa.array([content_hash(dataset, r) for r in records], pa.string())
    if ops is not None:
        columns["_op"] = pa.array(ops, pa.string())
    pq.write_table(pa.table(columns), path)
    return path


def content_hash(dataset: Dataset, record: dict[str, Any]) -> str:
    values = [str(record.get(field.name)) for field in dataset.fields]
    return hashlib.sha256(json.dumps(values, ensure_ascii=False).encode()).hexdigest()


@dataclass
class Publisher:
    """Registers and applies staged batches for one dataset, as the orchestration would."""

    engine: Engine
    root: Path
    dataset: Dataset = DATASET

    @property
    def parquet_dir(self) -> Path:
        return self.root / "parquet"

    def stage(self, records: Sequence[dict[str, Any]], **options: Any) -> Path:
        staging = self.root / "staging"
        staging.mkdir(parents=True, exist_ok=True)
        number = len(list(staging.iterdir())) + 1
        return write_staged(staging / f"{number}.parquet", self.dataset, records, **options)

    def register(self, staged: Path, mode: str = "full") -> Batch:
        """Each staged file stands for a distinct department file (two empty extracts are two
        deliveries), unless the same one is registered again."""
        digest = hashlib.sha256(staged.name.encode() + staged.read_bytes()).hexdigest()
        with Session(self.engine, expire_on_commit=False) as session:
            batch, _ = register_batch(
                session,
                dataset=self.dataset.code,
                department=self.dataset.department,
                file_name=staged.name,
                file_sha256=digest,
                file_size=staged.stat().st_size,
                mode=mode,  # type: ignore[arg-type]
            )
            session.commit()
        return batch

    def apply(self, batch: Batch, staged: Path, **options: Any) -> VersionResult:
        options.setdefault("run_id", "run-1")
        return apply_staged(
            self.engine,
            dataset=self.dataset,
            batch_id=batch.id,
            staged_path=staged,
            mode=batch.mode,  # type: ignore[arg-type]
            file_sha256=batch.file_sha256,
            parquet_dir=self.parquet_dir,
            **options,
        )

    def publish(
        self,
        records: Sequence[dict[str, Any]],
        *,
        mode: str = "full",
        ops: Sequence[str] | None = None,
        rows: Sequence[int] | None = None,
        **options: Any,
    ) -> VersionResult:
        staged = self.stage(records, ops=ops, rows=rows)
        return self.apply(self.register(staged, mode), staged, **options)


@pytest.fixture
def publisher(store: Engine, tmp_path: Path) -> Publisher:
    return Publisher(store, tmp_path)


def table_rows(engine: Engine, model: type) -> list[tuple]:
    table = model.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        rows = connection.execute(select(table).order_by(*table.primary_key.columns)).all()
    return [tuple(row) for row in rows]


def counts(result: VersionResult) -> dict[str, int]:
    return {
        "added": result.added,
        "changed": result.changed,
        "ended": result.ended,
        "unchanged": result.unchanged,
        "row_count": result.row_count,
    }


def test_first_full_version_stores_every_record_with_its_lineage(publisher: Publisher) -> None:
    records = [person(3), person(1, income=None, married=None, birth_date=None), person(2)]
    staged = publisher.stage(records)
    batch = publisher.register(staged)
    result = publisher.apply(batch, staged, now=T1, run_id="run-7")

    assert (result.version, result.created) == (1, True)
    assert counts(result) == {"added": 3, "changed": 0, "ended": 0, "unchanged": 0, "row_count": 3}
    [stored_version] = dataset_versions(publisher.engine, DATASET.code)
    assert asdict(stored_version) == {
        name: value for name, value in asdict(result).items() if name in asdict(stored_version)
    }
    for row_number, record in enumerate(records, start=1):
        stored = record_as_of(publisher.engine, DATASET.code, record["id_number"])
        assert stored is not None
        assert stored.data == stored_data(record)
        assert (stored.version_from, stored.version_to) == (1, None)
        assert (stored.valid_from, stored.valid_to) == (T1, None)
        assert (stored.batch_id, stored.file_sha256) == (batch.id, batch.file_sha256)
        assert stored.source_row == row_number
        assert stored.run_id == "run-7"
        assert stored.ingested_at == T1
        assert stored.record_hash == content_hash(DATASET, record)


def test_stored_json_keeps_dates_decimals_and_nulls_exact(publisher: Publisher) -> None:
    record = person(
        5, name='欧阳 "娜娜"', income=Decimal("-0.000001"), birth_date=date(1880, 2, 29)
    )
    publisher.publish([record, person(6, income=Decimal("12345678901234.5"), status=None)])
    stored = record_as_of(publisher.engine, DATASET.code, key(5))
    assert stored is not None
    assert stored.data["name"] == '欧阳 "娜娜"'
    assert stored.data["income"] == "-0.000001"
    assert stored.data["birth_date"] == "1880-02-29"
    other = record_as_of(publisher.engine, DATASET.code, key(6))
    assert other is not None
    assert other.data["income"] == "12345678901234.500000"
    assert other.data["status"] is None
    assert Decimal(other.data["income"]) == Decimal("12345678901234.5")


def test_snapshot_is_sorted_by_key_and_named_by_the_sha256_of_its_bytes(
    publisher: Publisher,
) -> None:
    numbers = [7, 2, 9, 4, 1]
    result = publisher.publish([person(n) for n in numbers])

    path = result.snapshot_path
    assert path.parent == publisher.parquet_dir / DATASET.code
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert path.name == f"{digest}.parquet"
    assert result.snapshot_sha256 == digest
    assert result.snapshot == f"{DATASET.code}/{digest}.parquet"
    table = pq.read_table(path)
    assert table.column("subject_key").to_pylist() == sorted(key(n) for n in numbers)
    assert table.column_names == [
        "subject_key",
        *(f.name for f in DATASET.fields),
        "_hash",
        "_batch",
        "_row",
        "_file_sha256",
        "_version_from",
    ]
    source_rows = dict(
        zip(table.column("subject_key").to_pylist(), table.column("_row").to_pylist(), strict=True)
    )
    assert source_rows == {key(n): i for i, n in enumerate(numbers, start=1)}
    metadata = pq.ParquetFile(path).metadata
    assert metadata.row_group(0).column(0).compression == "ZSTD"
    assert metadata.row_group(0).sorting_columns[0].column_index == 0
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_second_full_extract_adds_changes_and_ends_subjects(publisher: Publisher) -> None:
    first = publisher.publish([person(1), person(2), person(3), person(4)], now=T1)
    # 1 unchanged but sent at another row, 2 changed, 3 missing, 4 unchanged, 5 new
    second = publisher.publish(
        [person(5), person(4), person(2, name="改名"), person(1)], now=T2, run_id="run-2"
    )

    assert second.version == 2
    assert counts(second) == {"added": 1, "changed": 1, "ended": 1, "unchanged": 2, "row_count": 4}
    engine = publisher.engine
    changed = record_history(engine, DATASET.code, key(2))
    assert [(r.version_from, r.version_to, r.data["name"]) for r in changed] == [
        (1, 2, "居民2"),
        (2, None, "改名"),
    ]
    assert [(r.valid_from, r.valid_to) for r in changed] == [(T1, T2), (T2, None)]
    assert changed[1].batch_id == second.batch_id and changed[1].source_row == 3
    assert changed[1].run_id == "run-2"
    assert record_as_of(engine, DATASET.code, key(3)) is None
    [ended] = record_history(engine, DATASET.code, key(3))
    assert (ended.version_from, ended.version_to, ended.valid_to) == (1, 2, T2)
    # unchanged records keep the lineage of the batch that last changed them
    unchanged = record_as_of(engine, DATASET.code, key(1))
    assert unchanged is not None
    assert (unchanged.batch_id, unchanged.source_row, unchanged.version_from) == (
        first.batch_id,
        1,
        1,
    )
    assert unchanged.valid_from == T1
    added = record_as_of(engine, DATASET.code, key(5))
    assert added is not None and (added.batch_id, added.source_row) == (second.batch_id, 1)
    # only what changed was written: 4 current rows, 2 in history
    assert len(table_rows(engine, Record)) == 4
    assert len(table_rows(engine, RecordHistory)) == 2
    snapshot = pq.read_table(second.snapshot_path).to_pylist()
    lineage = {
        row["subject_key"]: (row["_batch"], row["_row"], row["_version_from"]) for row in snapshot
    }
    assert lineage == {
        key(1): (first.batch_id, 1, 1),
        key(2): (second.batch_id, 3, 2),
        key(4): (first.batch_id, 4, 1),
        key(5): (second.batch_id, 1, 2),
    }


def test_identical_full_extract_makes_a_version_without_writing_records(
    publisher: Publisher,
) -> None:
    """The department did deliver (freshness counts it), but nothing changed: a version with
    zero changes, no record writes, and the very same snapshot file."""
    records = [person(n) for n in range(1, 6)]
    first = publisher.publish(records, now=T1)
    before = table_rows(publisher.engine, Record), table_rows(publisher.engine, RecordHistory)

    second = publisher.publish(list(reversed(records)), now=T2)  # same content, other bytes

    assert second.version == 2 and second.batch_id != first.batch_id
    assert counts(second) == {"added": 0, "changed": 0, "ended": 0, "unchanged": 5, "row_count": 5}
    assert second.snapshot_path == first.snapshot_path
    assert second.snapshot_sha256 == first.snapshot_sha256
    after = table_rows(publisher.engine, Record), table_rows(publisher.engine, RecordHistory)
    assert after == before


def test_delta_applies_upserts_and_deletes(publisher: Publisher) -> None:
    first = publisher.publish([person(1), person(2), person(3)], now=T1)
    second = publisher.publish(
        [
            person(1, status="迁出"),  # changed
            person(4),  # new
            person(2),  # identical: unchanged
            {"id_number": key(3)},  # delete: only the key is needed
            {"id_number": key(9)},  # delete of an unknown subject: nothing to do
        ],
        mode="delta",
        ops=["upsert", "upsert", "upsert", "delete", "delete"],
        now=T2,
    )

    assert counts(second) == {"added": 1, "changed": 1, "ended": 1, "unchanged": 1, "row_count": 3}
    engine = publisher.engine
    assert record_as_of(engine, DATASET.code, key(3)) is None
    assert record_as_of(engine, DATASET.code, key(9)) is None
    updated = record_as_of(engine, DATASET.code, key(1))
    assert updated is not None and updated.data["status"] == "迁出"
    assert (updated.version_from, updated.batch_id) == (2, second.batch_id)
    kept = record_as_of(engine, DATASET.code, key(2))
    assert kept is not None and (kept.version_from, kept.batch_id) == (1, first.batch_id)
    snapshot = pq.read_table(second.snapshot_path)
    assert snapshot.column("subject_key").to_pylist() == [key(1), key(2), key(4)]
    assert "_op" not in snapshot.column_names


def test_delta_keeps_records_it_does_not_mention(publisher: Publisher) -> None:
    publisher.publish([person(n) for n in range(1, 5)], now=T1)
    result = publisher.publish([person(2, children=7)], mode="delta", ops=["upsert"], now=T2)
    assert counts(result) == {"added": 0, "changed": 1, "ended": 0, "unchanged": 3, "row_count": 4}
    snapshot = pq.read_table(result.snapshot_path).to_pylist()
    assert [row["children"] for row in snapshot] == [1, 7, 0, 1]


def test_reapplying_a_batch_returns_its_version_and_writes_nothing(publisher: Publisher) -> None:
    staged = publisher.stage([person(1), person(2)])
    batch = publisher.register(staged)
    first = publisher.apply(batch, staged, now=T1)
    before = table_rows(publisher.engine, Record)

    again = publisher.apply(batch, staged, now=T2)

    assert again.created is False
    assert (again.version, again.snapshot_sha256, again.created_at) == (
        first.version,
        first.snapshot_sha256,
        first.created_at,
    )
    assert [v.version for v in dataset_versions(publisher.engine, DATASET.code)] == [1]
    assert table_rows(publisher.engine, Record) == before
    assert publisher.register(staged).id == batch.id  # the same file is the same batch


@pytest.mark.parametrize("point", ["snapshot", "serving"])
def test_a_crash_before_commit_leaves_the_previous_version_and_the_rerun_succeeds(
    publisher: Publisher, point: str
) -> None:
    first = publisher.publish([person(1), person(2)], now=T1)
    staged = publisher.stage([person(1, name="新名"), person(3)])
    batch = publisher.register(staged)

    class Crash(Exception):
        pass

    def crash(reached: str) -> None:
        if reached == point:
            raise Crash(reached)

    with pytest.raises(Crash):
        publisher.apply(batch, staged, now=T2, _checkpoint=crash)

    engine = publisher.engine
    assert [v.version for v in dataset_versions(engine, DATASET.code)] == [1]
    current = record_as_of(engine, DATASET.code, key(1))
    assert current is not None and current.data["name"] == "居民1"
    assert record_as_of(engine, DATASET.code, key(3)) is None
    assert record_as_of(engine, DATASET.code, key(2)) is not None
    assert len(table_rows(engine, RecordHistory)) == 0
    with Session(engine) as session:
        assert session.get(Batch, batch.id).version is None  # type: ignore[union-attr]
    snapshots = sorted((publisher.parquet_dir / DATASET.code).glob("*.parquet"))
    assert len(snapshots) == 2 and first.snapshot_path in snapshots
    [orphan] = [p for p in snapshots if p != first.snapshot_path]
    written = orphan.stat()

    rerun = publisher.apply(batch, staged, now=T2)

    assert (rerun.version, rerun.created) == (2, True)
    assert counts(rerun) == {"added": 1, "changed": 1, "ended": 1, "unchanged": 0, "row_count": 2}
    assert rerun.snapshot_path == orphan  # the snapshot already on disk is reused...
    assert (orphan.stat().st_ino, orphan.stat().st_mtime_ns) == (
        written.st_ino,
        written.st_mtime_ns,
    )
    renamed = record_as_of(engine, DATASET.code, key(1))
    assert renamed is not None and renamed.data["name"] == "新名"
    with Session(engine) as session:
        assert session.get(Batch, batch.id).version == 2  # type: ignore[union-attr]


def test_concurrent_applier_rebuilds_on_the_version_committed_before_it(
    publisher: Publisher,
) -> None:
    """Two batches built on version 1; the one that commits second notices at its version
    insert, rebuilds on version 2 and becomes version 3: no update is lost."""
    publisher.publish([person(1), person(2)], now=T1)
    late = publisher.stage([person(1, name="甲")], ops=["upsert"])
    late_batch = publisher.register(late, "delta")
    early = publisher.stage([person(3)], ops=["upsert"])
    early_batch = publisher.register(early, "delta")
    interleaved: list[VersionResult] = []

    def meanwhile(reached: str) -> None:
        if reached == "snapshot" and not interleaved:
            interleaved.append(publisher.apply(early_batch, early, now=T2))

    result = publisher.apply(late_batch, late, now=T3, _checkpoint=meanwhile)

    assert [interleaved[0].version, result.version] == [2, 3]
    assert counts(result) == {"added": 0, "changed": 1, "ended": 0, "unchanged": 2, "row_count": 3}
    current = {k: record_as_of(publisher.engine, DATASET.code, key(k)) for k in (1, 2, 3)}
    assert {k: r.data["name"] for k, r in current.items() if r} == {1: "甲", 2: "居民2", 3: "居民3"}
    versions = dataset_versions(publisher.engine, DATASET.code)
    assert [(v.version, v.batch_id) for v in versions] == [
        (1, versions[0].batch_id),
        (2, early_batch.id),
        (3, late_batch.id),
    ]


@pytest.mark.parametrize(
    ("mode", "records", "options", "message"),
    [
        ("full", [person(1), person(1)], {}, "1 repeated"),
        ("delta", [person(1)], {}, r"lacks the columns \['_op'\]"),
        ("delta", [person(1)], {"ops": ["insert"]}, "1 rows whose _op is neither"),
    ],
    ids=["repeated-key", "delta-without-op", "bad-op"],
)
def test_a_staged_file_breaking_the_contract_changes_nothing(
    publisher: Publisher, mode: str, records: list, options: dict, message: str
) -> None:
    staged = publisher.stage(records, **options)
    with pytest.raises(StagedFileError, match=message):
        publisher.apply(publisher.register(staged, mode), staged)
    assert dataset_versions(publisher.engine, DATASET.code) == []


def test_a_staged_file_missing_a_field_column_is_named(publisher: Publisher) -> None:
    staged = publisher.stage([person(1)])
    pq.write_table(pq.read_table(staged).drop_columns(["income", "_hash"]), staged)
    with pytest.raises(StagedFileError, match=r"lacks the columns \['income', '_hash'\]"):
        publisher.apply(publisher.register(staged), staged)


def test_apply_refuses_a_batch_other_than_the_registered_one(publisher: Publisher) -> None:
    staged = publisher.stage([person(1)])
    batch = publisher.register(staged)
    with pytest.raises(LookupError, match="batch b-nope is not registered"):
        apply_staged(
            publisher.engine,
            dataset=DATASET,
            batch_id="b-nope",
            staged_path=staged,
            mode="full",
            file_sha256=batch.file_sha256,
            run_id=None,
            parquet_dir=publisher.parquet_dir,
        )
    with pytest.raises(ValueError, match="mode 'delta' \\(registered: 'full'\\)"):
        apply_staged(
            publisher.engine,
            dataset=DATASET,
            batch_id=batch.id,
            staged_path=staged,
            mode="delta",
            file_sha256=batch.file_sha256,
            run_id=None,
            parquet_dir=publisher.parquet_dir,
        )


def test_register_batch_recognises_the_same_content_per_dataset(store: Engine) -> None:
    digest = hashlib.sha256(b"file").hexdigest()
    details = {"department": "psb", "file_size": 4, "mode": "full", "file_sha256": digest}
    with Session(store) as session:
        batch, created = register_batch(session, dataset="a_set", file_name="a.csv", **details)
        session.commit()
        again, created_again = register_batch(
            session, dataset="a_set", file_name="renamed.csv", **details
        )
        other, created_other = register_batch(
            session, dataset="b_set", file_name="a.csv", **details
        )
        session.commit()
        assert (created, created_again, created_other) == (True, False, True)
        assert again.id == batch.id and again.file_name == "a.csv"
        assert other.id != batch.id
        assert re.fullmatch(rf"b-\d{{14}}-{digest[:8]}", batch.id)
        assert other.id == f"{batch.id}-2" or re.fullmatch(rf"b-\d{{14}}-{digest[:8]}", other.id)
        assert batch.status == "registered" and batch.version is None


def test_version_times_never_go_back(publisher: Publisher) -> None:
    publisher.publish([person(1)], now=T2)
    second = publisher.publish([person(1, name="新")], now=T1)  # a clock that went back
    assert second.created_at == T2
    history = record_history(publisher.engine, DATASET.code, key(1))
    assert all(r.valid_to is None or r.valid_from <= r.valid_to for r in history)


def test_time_without_zone_is_refused(publisher: Publisher) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        publisher.publish([person(1)], now=datetime(2026, 1, 1, 9, 0))


def test_stored_times_are_utc(publisher: Publisher) -> None:
    result = publisher.publish([person(1)], now=T1)
    assert result.created_at.tzinfo is not None
    assert result.created_at.utcoffset() == timedelta(0)
    assert result.created_at == T1.astimezone(UTC)
    assert os.path.isfile(result.snapshot_path)


def test_a_field_the_catalogue_gained_is_empty_in_records_a_delta_keeps(
    store: Engine, tmp_path: Path
) -> None:
    current = person_dataset("evolving")
    older = current.model_copy(
        update={"fields": tuple(f for f in current.fields if f.name != "children")}
    )
    publisher = Publisher(store, tmp_path, older)
    publisher.publish([person(1), person(2)], now=T1)
    publisher.dataset = current
    result = publisher.publish([person(2, children=5)], mode="delta", ops=["upsert"], now=T2)

    snapshot = pq.read_table(result.snapshot_path).to_pylist()
    assert [(row["subject_key"], row["children"]) for row in snapshot] == [
        (key(1), None),
        (key(2), 5),
    ]
    kept = record_as_of(store, "evolving", key(1))
    assert kept is not None and "children" not in kept.data and kept.version_from == 1
    upserted = record_as_of(store, "evolving", key(2))
    assert upserted is not None and upserted.data["children"] == 5
