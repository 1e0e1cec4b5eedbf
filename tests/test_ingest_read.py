"""Reading department files: every format and encoding, header aliases, and each refusal of a
file whose format, encoding or columns are wrong.

The helpers at the top (a test dataset with a field of every type, valid identifiers, writers
for each format) are shared with the validation and staging tests.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from catalog.schema import (
    Dataset,
    DatasetField,
    DatasetKey,
    Encoding,
    FieldType,
    FileFormat,
    Frequency,
    KeyKind,
    OpenClass,
    SharingClass,
)
from exchange.identifiers import resident, uscc
from exchange.ingest.errors import BatchRefused, RefusalReason
from exchange.ingest.read import open_source
from exchange.ingest.readers import arrow_text, python_text

# --- shared helpers --------------------------------------------------------------------------

FIELDS = (
    DatasetField(
        name="id_number",
        title="公民身份号码",
        type=FieldType.RESIDENT_ID,
        required=True,
        sensitive=True,
        aliases=("公民身份号码", "身份证号"),
    ),
    DatasetField(
        name="name", title="姓名", type=FieldType.STRING, required=True, aliases=("姓名",)
    ),
    DatasetField(
        name="gender",
        title="性别",
        type=FieldType.ENUM,
        required=True,
        values=("男", "女"),
        aliases=("性别",),
    ),
    DatasetField(
        name="birth_date",
        title="出生日期",
        type=FieldType.DATE,
        required=True,
        aliases=("出生日期",),
    ),
    DatasetField(name="children", title="子女数", type=FieldType.INTEGER, aliases=("子女数",)),
    DatasetField(
        name="income",
        title="月收入",
        type=FieldType.DECIMAL,
        sensitive=True,
        aliases=("月收入(元)",),
    ),
    DatasetField(
        name="veteran", title="退役军人", type=FieldType.BOOLEAN, aliases=("是否退役军人",)
    ),
    DatasetField(
        name="employer_uscc",
        title="单位统一社会信用代码",
        type=FieldType.USCC,
        aliases=("单位统一社会信用代码",),
    ),
    DatasetField(
        name="spouse_id_number",
        title="配偶身份证号",
        type=FieldType.RESIDENT_ID,
        sensitive=True,
        aliases=("配偶身份证号",),
    ),
    DatasetField(
        name="address", title="住址", type=FieldType.STRING, sensitive=True, aliases=("住址",)
    ),
)
HEADERS = [f.aliases[0] for f in FIELDS]
NAMES = [f.name for f in FIELDS]
TODAY = dt.date(2026, 6, 30)


def people(**changes: object) -> Dataset:
    """A test dataset with a field of every type (the catalogue's have no boolean)."""
    values: dict[str, object] = {
        "code": "test_people",
        "name": "测试人口",
        "name_en": "Test people",
        "description": "A dataset for the ingest tests.",
        "department": "psb",
        "key": DatasetKey(kind=KeyKind.RESIDENT, field="id_number"),
        "fields": FIELDS,
        "format": FileFormat.CSV,
        "update_frequency": Frequency.DAILY,
        "max_quarantine_rate": 1.0,
        "sharing_class": SharingClass.UNCONDITIONAL,
        "open_class": OpenClass.OPEN,
    }
    values.update(changes)
    return Dataset(**values)  # type: ignore[arg-type]


def rid(sequence: int, birth: str = "19900101", region: str = "330106") -> str:
    """A valid resident identity number."""
    body = f"{region}{birth}{sequence:03d}"
    return body + resident.calc_check_digit(body)


def code(number: int) -> str:
    """A valid USCC."""
    body = f"91330106MA{number:07d}"
    return body + uscc.calc_check_digit(body)


def person(index: int, **changes: str | None) -> dict[str, str | None]:
    """One valid row, as text keyed by field name."""
    row: dict[str, str | None] = {
        "id_number": rid(index),
        "name": f"张{'一二三四五六七八九十'[index % 10]}",
        "gender": "男" if index % 2 else "女",
        "birth_date": "1990-01-01",
        "children": str(index % 3),
        "income": f"{1000 + index}.50",
        "veteran": "否",
        "employer_uscc": code(index),
        "spouse_id_number": rid(500 + index, birth="19910202"),
        "address": f"浙江省杭州市西湖区文三路{index}号",
    }
    row.update(changes)
    return row


def write_csv(
    path: Path,
    rows: list[dict[str, str | None]],
    *,
    encoding: str = "utf-8",
    headers: list[str] | None = None,
    delimiter: str = ",",
) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(headers or HEADERS)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row.values()])
    return path


def read_all(path: Path, dataset: Dataset, **options: object) -> tuple[pa.Table, pa.Table]:
    """Every batch of the file: the values with their ``_row``, and the unreadable rows."""
    values, unreadable = [], []
    with open_source(path, dataset, **options) as source:  # type: ignore[arg-type]
        for batch in source.batches():
            values.append(batch.values.append_column("_row", batch.rows))
            unreadable.append(batch.unreadable)
    return pa.concat_tables(values), pa.concat_tables(unreadable)


def refusal(path: Path, dataset: Dataset, **options: object) -> BatchRefused:
    with pytest.raises(BatchRefused) as caught:
        read_all(path, dataset, **options)
    return caught.value


# --- CSV encodings ---------------------------------------------------------------------------

ROWS = [person(1), person(2, name="李四"), person(3)]


@pytest.mark.parametrize("encoding", [e.value for e in Encoding])
def test_csv_in_its_declared_encoding(tmp_path: Path, encoding: str):
    path = write_csv(tmp_path / "people.csv", ROWS, encoding=encoding)
    dataset = people(encoding=Encoding(encoding))
    with open_source(path, dataset) as source:
        assert source.encoding == encoding
    values, _ = read_all(path, dataset)
    assert values.drop_columns(["_row"]).to_pylist() == ROWS
    assert values.column("_row").to_pylist() == [1, 2, 3]


@pytest.mark.parametrize(
    ("written", "detected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030"), ("gb18030", "gb18030")],
)
def test_csv_encoding_detected_when_not_declared(tmp_path: Path, written: str, detected: str):
    path = write_csv(tmp_path / "people.csv", ROWS, encoding=written)
    with open_source(path, people()) as source:
        assert source.encoding == detected
    values, _ = read_all(path, people())
    assert values.drop_columns(["_row"]).to_pylist() == ROWS


def test_gb18030_characters_outside_gbk(tmp_path: Path):
    rows = [person(1), person(2, name="王𠀀")]  # U+20000 is in GB18030, not in GBK
    path = write_csv(tmp_path / "people.csv", rows, encoding="gb18030")
    values, _ = read_all(path, people())  # detected
    assert values.column("name").to_pylist() == ["张二", "王𠀀"]
    values, _ = read_all(path, people(encoding=Encoding.GB18030))
    assert values.column("name").to_pylist() == ["张二", "王𠀀"]

    data = path.read_bytes()
    offset = data.index("𠀀".encode("gb18030"))
    error = refusal(path, people(encoding=Encoding.GBK))
    assert error.reason is RefusalReason.BAD_ENCODING
    assert f"byte offset {offset:,} (line 3)" in error.message
    assert "not gbk" in error.message and "GB18030" in error.message


def test_gbk_file_declared_utf8_is_refused_with_the_position(tmp_path: Path):
    path = write_csv(tmp_path / "people.csv", ROWS, encoding="gbk")
    error = refusal(path, people(encoding=Encoding.UTF8))
    assert error.reason is RefusalReason.BAD_ENCODING
    assert "byte offset 0 (line 1)" in error.message  # the header is Chinese already
    assert "looks like GBK/GB18030" in error.message


def test_an_undecodable_byte_deep_in_a_declared_gbk_file(tmp_path: Path):
    path = write_csv(tmp_path / "people.csv", [person(i) for i in range(1, 400)], encoding="gbk")
    data = path.read_bytes()
    cut = data.index(b"\n", len(data) // 2) + 1
    path.write_bytes(data[:cut] + b"\x80" + data[cut:])  # 0x80 is not a GBK byte
    error = refusal(path, people(encoding=Encoding.GBK), batch_rows=20)
    assert error.reason is RefusalReason.BAD_ENCODING
    line = data[:cut].count(b"\n") + 1
    assert f"bytes 0x80 at byte offset {cut:,} (line {line})" in error.message


def test_undecodable_in_every_encoding_is_refused(tmp_path: Path):
    path = tmp_path / "people.csv"
    header = ",".join(HEADERS).encode()
    path.write_bytes(header + b"\n\xff\xfe\xff,x\n")  # a UTF-8 header, then junk
    error = refusal(path, people())
    assert error.reason is RefusalReason.BAD_ENCODING
    offset = len(header) + 1
    assert f"neither UTF-8 text (bytes 0xff at byte offset {offset} (line 2)" in error.message
    assert "nor GB18030 or GBK text (bytes" in error.message


def test_an_explicit_encoding_overrides_the_declared_one(tmp_path: Path):
    path = write_csv(tmp_path / "people.csv", ROWS, encoding="gbk")
    values, _ = read_all(path, people(encoding=Encoding.UTF8), encoding="GBK")
    assert values.column("name").to_pylist() == [r["name"] for r in ROWS]
    error = refusal(path, people(), encoding="latin-1")
    assert error.reason is RefusalReason.BAD_ENCODING
    assert "'latin-1' is not supported" in error.message


def test_tab_separated_txt(tmp_path: Path):
    path = write_csv(tmp_path / "people.txt", ROWS, delimiter="\t")
    values, _ = read_all(path, people())
    assert values.drop_columns(["_row"]).to_pylist() == ROWS


def test_values_stay_text_exactly_as_written(tmp_path: Path):
    rows = [person(1, children="007", address="NA", name="  带空格  "), person(2, address="")]
    path = write_csv(tmp_path / "people.csv", rows)
    values, _ = read_all(path, people())
    assert values.column("children").to_pylist() == ["007", "2"]
    assert values.column("address").to_pylist() == ["NA", ""]
    assert values.column("name").to_pylist()[0] == "  带空格  "  # trimming is validation's job


def test_rows_with_the_wrong_number_of_fields_are_set_aside_and_numbering_holds(tmp_path: Path):
    path = tmp_path / "people.csv"
    lines = [",".join(HEADERS)]
    broken = {5: "1,2", 777: ",".join(["x"] * 12), 1499: "只有一个字段"}
    for number in range(1, 1501):
        if number in broken:
            lines.append(broken[number])
        elif number == 7:  # a quoted value spanning two lines is one record
            lines.append(",".join(f'"{v}"' for v in person(7, address="第一行\n第二行").values()))
        else:
            lines.append(",".join(person(number).values()))  # type: ignore[arg-type]
        if number == 100:
            lines.append("")  # a blank line is not a record
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    values, unreadable = read_all(path, people(), batch_rows=50)  # many pyarrow blocks

    assert unreadable.column("row").to_pylist() == [5, 777, 1499]
    assert unreadable.column("message").to_pylist()[0] == (
        "the record has 2 fields where the header has 10"
    )
    assert unreadable.column("text").to_pylist()[2] == "只有一个字段"
    rows = values.column("_row").to_pylist()
    assert rows == [n for n in range(1, 1501) if n not in broken]
    ids = values.column("id_number").to_pylist()
    assert ids == [rid(n) for n in rows]  # each row carries its own record number
    assert values.column("address").to_pylist()[rows.index(7)] == "第一行\n第二行"


def test_a_file_that_is_not_csv_at_all(tmp_path: Path):
    path = tmp_path / "people.csv"
    path.write_bytes(b"")
    assert refusal(path, people()).reason is RefusalReason.EMPTY_FILE
    path.write_bytes(b"\n\n  \n")
    assert refusal(path, people()).reason is RefusalReason.EMPTY_FILE


# --- Excel -----------------------------------------------------------------------------------


def test_xlsx_cells_typed_by_excel_become_the_text_meant(tmp_path: Path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append([])  # a title row left empty: the header is the first non-empty row
    sheet.append([*HEADERS, None])
    sheet.append(list(person(1).values()))
    first = person(2)
    typed = {
        **first,
        "birth_date": dt.datetime(1990, 1, 1),  # a date cell
        "children": 2,  # an integer
        "income": 1002.5,  # a float
        "veteran": False,  # a boolean cell
    }
    sheet.append(list(typed.values()))
    sheet.append([])  # an empty row keeps its number but is not a record
    sheet.append([*person(4, children=None).values()])
    sheet.cell(row=6, column=5, value=3.0)  # a whole number stored as a float
    path = tmp_path / "people.xlsx"
    workbook.save(path)

    values, _ = read_all(path, people())

    assert values.column("_row").to_pylist() == [1, 2, 4]
    assert values.column("birth_date").to_pylist() == ["1990-01-01"] * 3
    assert values.column("children").to_pylist() == ["1", "2", "3"]
    assert values.column("income").to_pylist() == ["1001.50", "1002.5", "1004.50"]
    assert values.column("veteran").to_pylist() == ["否", "false", "否"]
    assert values.column("id_number").to_pylist() == [rid(1), rid(2), rid(4)]


def test_garbage_xlsx_is_unreadable(tmp_path: Path):
    path = tmp_path / "people.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not a workbook")
    error = refusal(path, people())
    assert error.reason is RefusalReason.UNREADABLE
    assert "not a readable .xlsx workbook" in error.message


def test_empty_xlsx_is_an_empty_file(tmp_path: Path):
    path = tmp_path / "people.xlsx"
    Workbook().save(path)
    assert refusal(path, people()).reason is RefusalReason.EMPTY_FILE


# --- Parquet ---------------------------------------------------------------------------------


def test_parquet_typed_columns_become_text(tmp_path: Path):
    table = pa.table(
        {
            "id_number": pa.array([rid(1), rid(2)]).dictionary_encode(),
            "name": ["张三", "李四"],
            "gender": ["男", "女"],
            "birth_date": pa.array([dt.date(1990, 1, 1), dt.date(2000, 2, 29)], pa.date32()),
            "children": pa.array([2, None], pa.int64()),
            "income": pa.array([Decimal("84.93"), Decimal("1")], pa.decimal128(18, 2)),
            "veteran": pa.array([True, False]),
            "employer_uscc": pa.nulls(2),
            "spouse_id_number": pa.array([None, rid(3)]),
            "address": pa.array([1.0, 2.5]),  # a float column where text was expected
        }
    )
    path = tmp_path / "people.parquet"
    pq.write_table(table, path)
    values, _ = read_all(path, people())
    assert values.to_pylist() == [
        {
            "id_number": rid(1),
            "name": "张三",
            "gender": "男",
            "birth_date": "1990-01-01",
            "children": "2",
            "income": "84.93",
            "veteran": "true",
            "employer_uscc": None,
            "spouse_id_number": None,
            "address": "1",
            "_row": 1,
        },
        {
            "id_number": rid(2),
            "name": "李四",
            "gender": "女",
            "birth_date": "2000-02-29",
            "children": None,
            "income": "1.00",
            "veteran": "false",
            "employer_uscc": None,
            "spouse_id_number": rid(3),
            "address": "2.5",
            "_row": 2,
        },
    ]


def test_arrow_and_python_values_become_the_same_text():
    values = [
        dt.datetime(2020, 5, 1),
        dt.datetime(2020, 5, 1, 8, 30),
        3.0,
        84.93,
        1e15,
        True,
        dt.date(2000, 2, 29),
        None,
    ]
    arrays = [
        pa.array(values[:2], pa.timestamp("s")),
        pa.array(values[2:5]),
        pa.array(values[5:6]),
        pa.array(values[6:7], pa.date32()),
        pa.array(values[7:], pa.null()),
    ]
    arrow = [text for array in arrays for text in arrow_text(array).to_pylist()]
    python = [python_text(value) for value in values]
    assert arrow[:1] == python[:1] == ["2020-05-01"]
    assert arrow[1].startswith("2020-05-01 08:30:00") and python[1] == "2020-05-01 08:30:00"
    assert arrow[2:] == python[2:] == ["3", "84.93", "1000000000000000", "true", "2000-02-29", None]


def test_garbage_parquet_is_unreadable(tmp_path: Path):
    path = tmp_path / "people.parquet"
    path.write_bytes(b"PAR1 not really PAR1")
    error = refusal(path, people())
    assert error.reason is RefusalReason.UNREADABLE
    assert "not a readable Parquet file" in error.message


def test_parquet_with_a_nested_column_is_unreadable(tmp_path: Path):
    path = tmp_path / "people.parquet"
    table = pa.table({"id_number": [rid(1)], "name": [["a", "b"]]})
    pq.write_table(table, path)
    error = refusal(path, people())
    assert error.reason is RefusalReason.UNREADABLE
    assert "'name'" in error.message


# --- JSON lines ------------------------------------------------------------------------------


def test_json_lines(tmp_path: Path):
    lines = [
        json.dumps(person(1), ensure_ascii=False),
        "",  # blank lines are not records
        f'{{"id_number": "{rid(2)}", "name": "李四", "children": 2, "income": 84.930, '
        '"veteran": true}',
        "   ",
        f'{{"id_number": "{rid(3)}", "name": "王五", "income": 12345678901234.123456}}',
    ]
    path = tmp_path / "people.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n")
    values, unreadable = read_all(path, people())
    assert unreadable.num_rows == 0
    assert values.column("_row").to_pylist() == [1, 2, 3]
    assert values.column("children").to_pylist() == ["1", "2", None]
    # 84.930 may come back as 84.93 (same number); 20 significant digits come back exactly
    assert [Decimal(v) for v in values.column("income").to_pylist()] == [
        Decimal("1001.50"),
        Decimal("84.93"),
        Decimal("12345678901234.123456"),
    ]
    assert values.column("income").to_pylist()[2] == "12345678901234.123456"
    assert values.column("veteran").to_pylist() == ["否", "true", None]
    assert values.column("gender").to_pylist() == [person(1)["gender"], None, None]


def test_json_lines_that_are_not_objects_are_set_aside_with_their_numbers(tmp_path: Path):
    lines = [
        json.dumps(person(1), ensure_ascii=False),
        "[1, 2]",
        json.dumps(person(3), ensure_ascii=False),
        '{"id_number": "broken',
        json.dumps({**person(5), "children": 5}, ensure_ascii=False),
    ]
    path = tmp_path / "people.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    values, unreadable = read_all(path, people(), batch_rows=2)
    assert values.column("_row").to_pylist() == [1, 3, 5]
    assert values.column("children").to_pylist() == ["1", "0", "5"]
    assert unreadable.column("row").to_pylist() == [2, 4]
    assert unreadable.column("message").to_pylist()[0] == "the line is a JSON list, not an object"
    assert unreadable.column("message").to_pylist()[1].startswith("the line is not valid JSON")


def test_json_lines_not_in_utf8_are_refused(tmp_path: Path):
    path = tmp_path / "people.jsonl"
    good = json.dumps(person(1), ensure_ascii=False).encode()
    path.write_bytes(good + b"\n" + json.dumps(person(2), ensure_ascii=False).encode("gb18030"))
    error = refusal(path, people())
    assert error.reason is RefusalReason.BAD_ENCODING
    assert "line 2" in error.message


def test_empty_json_lines_file(tmp_path: Path):
    path = tmp_path / "people.jsonl"
    path.write_text("\n \n", encoding="utf-8")
    assert refusal(path, people()).reason is RefusalReason.EMPTY_FILE


# --- headers ---------------------------------------------------------------------------------


def test_headers_map_through_aliases_after_normalising(tmp_path: Path):
    headers = [
        " 身份证号\u3000",  # an alias, with an ASCII and a full-width space around it
        "ＮＡＭＥ",  # the field name in full-width letters, upper case
        "性别",
        "出生日期",
        "子女数",
        "月收入（元）",  # full-width brackets
        "是否退役军人",
        "单位统一社会信用代码",
        "配偶身份证号",
        "Address ",
    ]
    path = write_csv(tmp_path / "people.csv", ROWS, headers=headers)
    with open_source(path, people()) as source:
        assert source.columns == dict(zip(headers, [f.name for f in FIELDS], strict=True))
    values, _ = read_all(path, people())
    assert values.drop_columns(["_row"]).to_pylist() == ROWS


def test_missing_optional_columns_are_null(tmp_path: Path):
    keep = ["id_number", "name", "gender", "birth_date"]
    rows = [{k: r[k] for k in keep} for r in ROWS]
    path = write_csv(tmp_path / "people.csv", rows, headers=HEADERS[:4])
    values, _ = read_all(path, people())
    assert values.column("income").to_pylist() == [None] * 3
    assert values.column("name").to_pylist() == [r["name"] for r in ROWS]


def test_missing_required_columns_are_named(tmp_path: Path):
    rows = [{k: v for k, v in r.items() if k not in ("name", "gender")} for r in ROWS]
    headers = [h for h in HEADERS if h not in ("姓名", "性别")]
    path = write_csv(tmp_path / "people.csv", rows, headers=headers)
    error = refusal(path, people())
    assert error.reason is RefusalReason.MISSING_COLUMNS
    assert "姓名 (name), 性别 (gender)" in error.message
    assert "'公民身份号码'" in error.message  # the columns the file has


def test_unknown_columns_are_named_unless_ignored(tmp_path: Path):
    headers = [*HEADERS, "备注", "籍贯"]
    rows = [{**r, "note": "x", "origin": "y"} for r in ROWS]
    path = write_csv(tmp_path / "people.csv", rows, headers=headers)
    error = refusal(path, people())
    assert error.reason is RefusalReason.UNKNOWN_COLUMNS
    assert "'备注', '籍贯'" in error.message

    with open_source(path, people(ignore_unknown_columns=True)) as source:
        assert source.ignored == ("备注", "籍贯")
        assert "备注" not in source.columns
    values, _ = read_all(path, people(ignore_unknown_columns=True))
    assert values.column_names == [f.name for f in FIELDS] + ["_row"]


def test_two_columns_for_one_field_are_refused(tmp_path: Path):
    headers = [*HEADERS, "身份证号"]
    rows = [{**r, "again": r["id_number"]} for r in ROWS]
    path = write_csv(tmp_path / "people.csv", rows, headers=headers)
    error = refusal(path, people())
    assert error.reason is RefusalReason.UNKNOWN_COLUMNS
    assert "'公民身份号码' and '身份证号' both name 公民身份号码 (id_number)" in error.message


def test_columns_with_an_empty_header_are_ignored(tmp_path: Path):
    rows = [{**r, "blank": ""} for r in ROWS]
    path = write_csv(tmp_path / "people.csv", rows, headers=[*HEADERS, ""])
    values, _ = read_all(path, people())
    assert values.num_rows == 3


def test_unknown_json_keys_refuse_when_they_first_appear(tmp_path: Path):
    lines = [json.dumps(person(i), ensure_ascii=False) for i in range(1, 6)]
    lines.append(json.dumps({**person(6), "remark": "?"}, ensure_ascii=False))
    path = tmp_path / "people.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    error = refusal(path, people(), batch_rows=2)
    assert error.reason is RefusalReason.UNKNOWN_COLUMNS
    assert "'remark'" in error.message


@pytest.mark.parametrize("name", ["people.xls", "people.json", "people", "people.csv.gz"])
def test_unsupported_extensions(tmp_path: Path, name: str):
    path = tmp_path / name
    path.write_text("whatever", encoding="utf-8")
    error = refusal(path, people())
    assert error.reason is RefusalReason.UNSUPPORTED_FORMAT
    assert name in error.message


def test_a_delta_batch_needs_an_operation_column(tmp_path: Path):
    path = write_csv(tmp_path / "people.csv", ROWS)
    error = refusal(path, people(), mode="delta")
    assert error.reason is RefusalReason.BAD_OPERATION_COLUMN
    assert "_op, op, operation, 操作类型, 操作" in error.message


@pytest.mark.parametrize("header", ["_op", "OP", "Operation", "操作类型", " 操作 "])
def test_operation_column_headers(tmp_path: Path, header: str):
    rows = [{**r, "op": "U"} for r in ROWS]
    path = write_csv(tmp_path / "people.csv", rows, headers=[*HEADERS, header])
    values, _ = read_all(path, people(), mode="delta")
    assert values.column("_op").to_pylist() == ["U"] * 3
    error = refusal(path, people())  # in a full batch it is a column too many
    assert error.reason is RefusalReason.UNKNOWN_COLUMNS
    assert "belongs to a delta batch" in error.message


# --- bounded memory --------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_reading_holds_a_few_batches_not_the_file(tmp_path: Path, suffix: str):
    """Arrow memory while reading stays a small fraction of the file's data: read-ahead is
    bounded (pyarrow's CSV reader keeps a few dozen blocks in flight, so blocks are small;
    Parquet's ``iter_batches`` over a whole file reads ahead without bound, so row groups are
    read one at a time)."""
    rows = 300_000
    values = zip(HEADERS, ROWS[0].values(), strict=True)
    table = pa.table({header: pa.array([value] * rows, pa.string()) for header, value in values})
    path = tmp_path / f"people{suffix}"
    if suffix == ".csv":
        pa_csv.write_csv(table, path)
    elif suffix == ".parquet":
        pq.write_table(
            table.rename_columns(NAMES),
            path,
            row_group_size=10_000,
            compression="none",
            use_dictionary=False,
        )
    else:
        line = json.dumps(dict(zip(NAMES, ROWS[0].values(), strict=True)), ensure_ascii=False)
        path.write_text((line + "\n") * rows, encoding="utf-8")
    whole = table.nbytes  # the file's data held at once, as Arrow strings
    del table
    before = pa.total_allocated_bytes()
    peak = read = 0
    with open_source(path, people(), batch_rows=1_000) as source:
        for batch in source.batches():
            read += len(batch.rows)
            peak = max(peak, pa.total_allocated_bytes() - before)
    assert read == rows
    assert peak < whole / 5, f"{peak:,} bytes of Arrow memory to read {whole:,} bytes of data"
