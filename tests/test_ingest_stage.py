"""Staging whole files: the staged Parquet file's contract, duplicates, delta batches, the
quarantine files, refusals that leave nothing behind, and the synthetic city's ground truth."""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import subprocess
import sys
import textwrap
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from stdnum.cn import ric
from stdnum.cn import uscc as stdnum_uscc
from test_ingest_read import HEADERS, TODAY, people, person, rid, write_csv

from catalog.loader import load_catalogue
from catalog.schema import Encoding, KeyKind
from exchange.identifiers import resident
from exchange.ingest.errors import BatchRefused, RefusalReason
from exchange.ingest.known import ROW_MAP
from exchange.ingest.stage import QUARANTINE_CSV, QUARANTINE_PARQUET, STAGED, stage_file
from exchange.ingest.validate import staged_schema
from exchange.synth import AS_OF, SynthOptions, synthesise

CATALOGUE = load_catalogue()


def stage(path: Path, out: Path, **options: object):
    dataset = options.pop("dataset", people())
    return stage_file(path, dataset, out_dir=out, today=TODAY, **options)  # type: ignore[arg-type]


def staged_rows(path: Path) -> list[dict[str, object]]:
    return pq.read_table(path).to_pylist()


# --- the staged file -------------------------------------------------------------------------


def test_staged_schema_is_the_contract(tmp_path: Path):
    path = write_csv(tmp_path / "people.csv", [person(1), person(2)])
    staged = stage(path, tmp_path / "out")
    expected = [
        ("subject_key", pa.string()),
        ("id_number", pa.string()),
        ("name", pa.string()),
        ("gender", pa.string()),
        ("birth_date", pa.date32()),
        ("children", pa.int64()),
        ("income", pa.decimal128(38, 6)),
        ("veteran", pa.bool_()),
        ("employer_uscc", pa.string()),
        ("spouse_id_number", pa.string()),
        ("address", pa.string()),
        ("_row", pa.int64()),
        ("_hash", pa.string()),
        ("_known", pa.bool_()),  # a full batch's rows looked up in the previous one's row map
    ]
    schema = pq.read_schema(staged.staged_path)
    assert [(f.name, f.type) for f in schema] == expected
    assert schema.equals(staged_schema(people(), "full").append(pa.field("_known", pa.bool_())))
    delta = staged_schema(people(), "delta")
    assert delta.names[-1] == "_op" and delta.field("_op").type == pa.string()


def test_a_clean_file(tmp_path: Path):
    rows = [person(i) for i in range(1, 6)]
    path = write_csv(tmp_path / "people.csv", rows, encoding="gbk")
    out = tmp_path / "out"
    staged = stage(path, out, dataset=people(encoding=Encoding.GBK))
    assert (staged.rows_read, staged.rows_accepted, staged.rows_quarantined) == (5, 5, 0)
    assert staged.duplicates_collapsed == 0 and staged.reasons == {}
    assert (staged.encoding, staged.format) == ("gbk", "csv")
    assert staged.columns == dict(zip(HEADERS, [r for r in rows[0]], strict=True))
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [QUARANTINE_CSV, QUARANTINE_PARQUET, STAGED, ROW_MAP]
    )
    table = staged_rows(staged.staged_path)
    assert [r["_row"] for r in table] == [1, 2, 3, 4, 5]
    assert [r["subject_key"] for r in table] == [rid(i) for i in range(1, 6)]
    assert table[0]["income"] == Decimal("1001.500000")
    assert table[0]["birth_date"] == dt.date(1990, 1, 1)
    assert pq.read_table(staged.quarantine_parquet).num_rows == 0


def test_hash_is_sha256_of_the_documented_canonical_form(tmp_path: Path):
    rows = [
        person(1),
        person(2, income="1,002.5", birth_date="1990/1/1", name=" 张二 "),  # same as typed
        person(3, address=None),
    ]
    path = write_csv(tmp_path / "people.csv", rows)
    table = staged_rows(stage(path, tmp_path / "out").staged_path)

    def canonical(record: dict[str, object]) -> str:
        parts = []
        for name in [f.name for f in people().fields]:
            value = record[name]
            if value is None:
                parts.append("-:")
                continue
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, Decimal):
                text = f"{value:.6f}"
            else:
                text = str(value)  # str of a date is ISO
            parts.append(f"{len(text.encode())}:{text}")
        return "".join(parts)

    for record in table:
        expected = hashlib.sha256(canonical(record).encode()).hexdigest()
        assert record["_hash"] == expected
    again = staged_rows(stage(path, tmp_path / "again").staged_path)
    assert [r["_hash"] for r in again] == [r["_hash"] for r in table]  # deterministic
    assert len({r["_hash"] for r in table}) == 3


def test_the_same_content_has_the_same_hash_in_another_process(tmp_path: Path):
    path = write_csv(tmp_path / "people.csv", [person(1), person(2)])
    here = [r["_hash"] for r in staged_rows(stage(path, tmp_path / "here").staged_path)]
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        from test_ingest_read import people, TODAY
        from exchange.ingest.stage import stage_file
        import pyarrow.parquet as pq
        out = Path({str(tmp_path / "there")!r})
        staged = stage_file(Path({str(path)!r}), people(), out_dir=out, today=TODAY)
        print(",".join(pq.read_table(staged.staged_path).column("_hash").to_pylist()))
        """
    )
    there = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert there.split(",") == here


# --- duplicates ------------------------------------------------------------------------------


def test_identical_duplicates_collapse_into_the_first(tmp_path: Path):
    rows = [person(1), person(2), person(1, income="1,001.5"), person(3), person(2)]
    staged = stage(write_csv(tmp_path / "people.csv", rows), tmp_path / "out")
    assert staged.duplicates_collapsed == 2
    assert staged.rows_quarantined == 0
    assert [r["_row"] for r in staged_rows(staged.staged_path)] == [1, 2, 4]


def test_conflicting_duplicates_are_all_set_aside(tmp_path: Path):
    rows = [
        person(1),
        person(2),
        person(1, name="张改"),
        person(3),
        person(1),
        person(4, id_number=rid(2)[:6] + " " + rid(2)[6:], gender="男"),  # rid(2) differently
    ]
    staged = stage(write_csv(tmp_path / "people.csv", rows), tmp_path / "out")
    assert [r["_row"] for r in staged_rows(staged.staged_path)] == [4]
    quarantine = pq.read_table(staged.quarantine_parquet).to_pylist()
    assert [(e["row"], e["field"], e["reason"]) for e in quarantine] == [
        (1, "id_number", "duplicate_conflict"),
        (2, "id_number", "duplicate_conflict"),
        (3, "id_number", "duplicate_conflict"),
        (5, "id_number", "duplicate_conflict"),
        (6, "id_number", "duplicate_conflict"),
    ]
    assert quarantine[0]["value"] == resident.mask(rid(1))
    assert quarantine[0]["message"] == (
        "rows 1, 3, 5 have the same 公民身份号码 (id_number) but different content; "
        "all are set aside"
    )
    assert staged.rows_quarantined == 5 and staged.duplicates_collapsed == 0
    assert staged.reasons == {"duplicate_conflict": 5}


def test_a_valid_row_stands_when_another_row_with_its_key_failed(tmp_path: Path):
    rows = [person(1, birth_date="1990-02-30"), person(2), person(1)]
    staged = stage(write_csv(tmp_path / "people.csv", rows), tmp_path / "out")
    assert [r["_row"] for r in staged_rows(staged.staged_path)] == [2, 3]
    quarantine = pq.read_table(staged.quarantine_parquet).to_pylist()
    assert [(e["row"], e["reason"]) for e in quarantine] == [(1, "bad_date")]


def test_many_conflicting_rows_are_counted_in_the_message(tmp_path: Path):
    rows = [person(1, name=f"张{n}") for n in range(12)]
    staged = stage(write_csv(tmp_path / "people.csv", rows), tmp_path / "out", batch_rows=5)
    message = pq.read_table(staged.quarantine_parquet).column("message")[0].as_py()
    assert message.startswith("rows 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 2 more have the same")


# --- delta -----------------------------------------------------------------------------------


def test_delta_upserts_and_deletes(tmp_path: Path):
    rows = [
        {**person(1), "op": "新增"},
        {**person(2, name=None, gender=None), "op": "D"},
        {**person(3), "op": "update"},
        {**person(4), "op": "delete"},
        {**person(4), "op": "upsert"},  # an upsert and a delete of one key conflict
        {**person(5), "op": "replace"},
    ]
    path = write_csv(tmp_path / "people.csv", rows, headers=[*HEADERS, "操作类型"])
    staged = stage(path, tmp_path / "out", mode="delta")
    table = staged_rows(staged.staged_path)
    assert [(r["_row"], r["subject_key"], r["_op"]) for r in table] == [
        (1, rid(1), "upsert"),
        (2, rid(2), "delete"),
        (3, rid(3), "upsert"),
    ]
    assert table[1]["name"] is None and table[1]["income"] is None
    assert pq.read_schema(staged.staged_path).equals(staged_schema(people(), "delta"))
    assert staged.columns["操作类型"] == "_op"
    reasons = [
        (e["row"], e["reason"]) for e in pq.read_table(staged.quarantine_parquet).to_pylist()
    ]
    assert reasons == [(4, "duplicate_conflict"), (5, "duplicate_conflict"), (6, "bad_operation")]


# --- quarantine files ------------------------------------------------------------------------


def test_quarantine_files_mask_identifiers_and_open_in_excel(tmp_path: Path):
    bad_id = rid(2)[:-1] + ("1" if rid(2)[-1] != "1" else "2")
    rows = [
        person(1, gender="未知"),
        person(2, id_number=bad_id),
        person(3, spouse_id_number=rid(9)[:-1] + "Y", address=None, name=None),
        person(4, income="一千零一"),
    ]
    staged = stage(write_csv(tmp_path / "people.csv", rows), tmp_path / "out")
    entries = pq.read_table(staged.quarantine_parquet).to_pylist()
    assert (
        [(e["row"], e["field"], e["reason"], e["value"]) for e in entries]
        == [
            (1, "gender", "bad_enum", "未知"),
            (2, "id_number", "bad_checksum", resident.mask(bad_id)),
            (3, "name", "missing_required", ""),  # as written: an empty cell
            (3, "spouse_id_number", "bad_character", resident.mask(rid(9)[:-1] + "Y")),
            (4, "income", "bad_number", "一***"),  # a sensitive field: only its first character
        ]
    )
    assert staged.rows_quarantined == 4 and staged.rows_accepted == 0

    data = staged.quarantine_csv.read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    text = data.decode("utf-8-sig")
    assert "性别 (gender) is not one of 男 | 女" in text
    for raw in (bad_id, rid(9)):
        assert raw not in text and raw[:17] not in text
    table = pa_csv.read_csv(staged.quarantine_csv)
    assert table.column_names == ["row", "field", "value", "reason", "message"]
    assert table.column("row").to_pylist() == [1, 2, 3, 3, 4]


def test_unreadable_rows_are_quarantined_with_digits_masked(tmp_path: Path):
    path = write_csv(tmp_path / "people.csv", [person(1), person(2)])
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"{rid(3)},只有两个字段\n")
    staged = stage(path, tmp_path / "out")
    (entry,) = pq.read_table(staged.quarantine_parquet).to_pylist()
    assert entry["row"] == 3 and entry["field"] is None and entry["reason"] == "unreadable_row"
    assert entry["value"] == f"{resident.mask(rid(3))},只有两个字段"
    assert staged.rows_read == 3 and staged.rows_accepted == 2


# --- refusals --------------------------------------------------------------------------------


def test_too_many_bad_rows_refuses_with_the_figures_and_keeps_the_quarantine(tmp_path: Path):
    rows = [person(i, gender="?") if i % 10 == 0 else person(i) for i in range(1, 101)]
    path = write_csv(tmp_path / "people.csv", rows)
    out = tmp_path / "out"
    with pytest.raises(BatchRefused) as caught:
        stage(path, out, dataset=people(max_quarantine_rate=0.05))
    error = caught.value
    assert error.reason is RefusalReason.TOO_MANY_BAD_ROWS
    assert error.message == (
        "test_people (测试人口): 10 of 100 rows (10%) set aside, above the dataset's limit of 5%; "
        "see quarantine.csv"
    )
    assert sorted(p.name for p in out.iterdir()) == [QUARANTINE_CSV, QUARANTINE_PARQUET]
    assert error.quarantine_csv == out / QUARANTINE_CSV
    assert pq.read_table(error.quarantine_parquet).num_rows == 10

    staged = stage(path, tmp_path / "ok", dataset=people(max_quarantine_rate=0.1))
    assert staged.rows_quarantined == 10  # exactly at the limit is accepted


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (",".join(HEADERS) + "\n", RefusalReason.EMPTY_FILE),
        ("", RefusalReason.EMPTY_FILE),
        ("姓名,性别\n张三,男\n", RefusalReason.MISSING_COLUMNS),
        (",".join([*HEADERS, "备注"]) + "\n", RefusalReason.UNKNOWN_COLUMNS),
    ],
)
def test_refusals_leave_nothing_behind(tmp_path: Path, content: str, reason: RefusalReason):
    path = tmp_path / "people.csv"
    path.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(BatchRefused) as caught:
        stage(path, out)
    assert caught.value.reason is reason
    assert caught.value.quarantine_csv is None
    assert list(out.iterdir()) == []


def test_a_refusal_half_way_through_a_file_leaves_nothing_behind(tmp_path: Path):
    path = write_csv(tmp_path / "people.csv", [person(i) for i in range(1, 3000)], encoding="gbk")
    data = path.read_bytes()
    path.write_bytes(data[:-100] + b"\x80" + data[-100:])
    out = tmp_path / "out"
    with pytest.raises(BatchRefused) as caught:
        stage(path, out, dataset=people(encoding=Encoding.GBK), batch_rows=100)
    assert caught.value.reason is RefusalReason.BAD_ENCODING
    assert list(out.iterdir()) == []


def test_a_rerun_replaces_the_files_with_the_same_content(tmp_path: Path):
    path = write_csv(tmp_path / "people.csv", [person(1), person(2, gender="?")])
    first = stage(path, tmp_path / "out")
    content = first.staged_path.read_bytes(), first.quarantine_csv.read_bytes()
    second = stage(path, tmp_path / "out")
    assert (second.staged_path.read_bytes(), second.quarantine_csv.read_bytes()) == content
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [STAGED, QUARANTINE_CSV, QUARANTINE_PARQUET, ROW_MAP]
    )


# --- the synthetic city ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("city")
    return synthesise(
        SynthOptions(out=out, people=3000, organisations=500, error_rate=0.02, seed=2026),
        catalogue=CATALOGUE,
    )


@pytest.mark.parametrize("code", sorted(d.code for d in CATALOGUE.datasets))
def test_the_quarantine_matches_the_ground_truth(city, tmp_path: Path, code: str):
    dataset = CATALOGUE.dataset(code)
    (written,) = [f for f in city.files if f.dataset == code]
    truth = [t for t in city.ground_truth.to_pylist() if t["dataset"] == code]
    try:
        staged = stage_file(
            city.out / written.path, dataset, out_dir=tmp_path, today=AS_OF, batch_rows=500
        )
        quarantine_path = staged.quarantine_parquet
    except BatchRefused as refused:  # a tiny dataset: one bad row can be above the limit
        assert refused.reason is RefusalReason.TOO_MANY_BAD_ROWS, refused.message
        assert written.rows * dataset.max_quarantine_rate < 5, refused.message
        staged, quarantine_path = None, refused.quarantine_parquet
    quarantine = pq.read_table(quarantine_path).to_pylist()

    def entry(row: int, field: str, reason: str) -> tuple[int, str, str]:
        # a conflict is about the record, named by its key; the truth names the changed field
        return (row, dataset.key.field if reason == "duplicate_conflict" else field, reason)

    expected = Counter(
        entry(t["row"], t["field"], t["expected_reason"]) for t in truth if t["expected_reason"]
    )
    found = Counter((e["row"], e["field"], e["reason"]) for e in quarantine)
    assert found == expected
    if staged is None:
        return

    rows = {t["row"] for t in truth if t["expected_reason"]}
    assert staged.rows_quarantined == len(rows)
    identical = [t for t in truth if t["kind"] == "identical_duplicate"]
    assert staged.duplicates_collapsed == len(identical)
    assert staged.rows_read == written.rows
    assert staged.rows_accepted == written.rows - len(rows) - len(identical)

    table = pq.read_table(staged.staged_path)
    keys = table.column("subject_key").to_pylist()
    assert len(set(keys)) == len(keys)
    check = ric.is_valid if dataset.key.kind is KeyKind.RESIDENT else stdnum_uscc.is_valid
    assert all(check(key) for key in keys)  # python-stdnum agrees on every accepted key
    accepted = set(table.column("_row").to_pylist())
    by_row = dict(zip(table.column("_row").to_pylist(), table.to_pylist(), strict=True))
    for t in truth:
        if t["expected_reason"] is None and t["kind"] != "identical_duplicate":
            assert t["row"] in accepted, t  # a normalisation is accepted ...
            assert by_row[t["row"]][t["field"]] == t["original_value"], t  # ... in normal form
