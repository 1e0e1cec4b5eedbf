"""Validating rows in bulk: the value parsers against Python's own (``datetime.date``,
``decimal.Decimal``, ``int``), each row reason with its field, message and masked value, and
junk that must never crash a validator."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric
from test_ingest_read import FIELDS, TODAY, code, people, person, rid

from exchange.identifiers import resident
from exchange.ingest.errors import RowReason
from exchange.ingest.read import OPERATION, RawBatch
from exchange.ingest.validate import (
    OPERATIONS,
    Plan,
    parse_booleans,
    parse_dates,
    parse_decimals,
    parse_integers,
    staged_schema,
    trim,
    validate_batch,
)

NAMES = [f.name for f in FIELDS]


def one(parser, text: str | None):
    return parser(trim(pa.array([text], pa.string()))).to_pylist()[0]


# --- dates -----------------------------------------------------------------------------------


@given(st.dates())
def test_every_date_in_every_accepted_form(day: dt.date):
    forms = [
        day.isoformat(),
        f"{day.year:04d}/{day.month}/{day.day}",
        f"{day.year:04d}/{day.month:02d}/{day.day:02d}",
        day.strftime("%Y%m%d")
        if day.year >= 1000
        else f"{day.year:04d}{day.month:02d}{day.day:02d}",
        f"{day.year:04d}年{day.month}月{day.day}日",
        f"  {day.isoformat()}\t",
    ]
    assert parse_dates(trim(pa.array(forms))).to_pylist() == [day] * len(forms)


@given(st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"))
def test_iso_dates_agree_with_python(text: str):
    try:
        expected = dt.date.fromisoformat(text)
    except ValueError:
        expected = None
    assert one(parse_dates, text) == expected


@given(st.from_regex(r"\A[0-9]{8}\Z"))
def test_compact_dates_agree_with_python(text: str):
    try:
        expected = dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        expected = None
    assert one(parse_dates, text) == expected


@pytest.mark.parametrize(
    "text",
    ["2023-02-29", "2023-04-31", "2023-13-01", "2023-00-10", "0000-01-01", "2023-1-1-1",
     "2023.01.01", "23-01-01", "2023-01-01T00:00", "2023年1月1", "二〇二三年一月一日",
     "2023/01-01"],
)  # fmt: skip
def test_not_dates(text: str):
    assert one(parse_dates, text) is None


def test_full_width_dates_are_folded():
    assert one(parse_dates, "２０２４年１月５日") == dt.date(2024, 1, 5)
    assert one(parse_dates, "２０２４－０１－０５") == dt.date(2024, 1, 5)


# --- numbers ---------------------------------------------------------------------------------

DECIMALS = st.decimals(
    min_value=Decimal("-1e31"), max_value=Decimal("1e31"), places=6, allow_nan=False
)


@given(DECIMALS)
def test_decimals_agree_with_decimal(number: Decimal):
    forms = [
        str(number),
        f"{number:f}",
        f"{number:,f}",
        f" +{number:f} " if number >= 0 else f"{number:f}",
    ]
    assert all(value == number for value in parse_decimals(trim(pa.array(forms))).to_pylist())


@given(st.decimals(min_value=Decimal(-1000), max_value=Decimal(1000), places=8, allow_nan=False))
def test_decimals_with_more_than_six_places(number: Decimal):
    representable = number == number.quantize(Decimal("0.000001"))
    assert (one(parse_decimals, f"{number:f}") is not None) == representable


@given(st.text(alphabet="0123456789+-.,eE ", max_size=12))
def test_accepted_numbers_mean_what_decimal_says(text: str):
    decimal = one(parse_decimals, text)
    integer = one(parse_integers, text)
    if decimal is not None:
        assert decimal == Decimal(text.strip().replace(",", ""))
    if integer is not None:
        assert integer == Decimal(text.strip().replace(",", ""))
        assert decimal == integer
    plain = text.strip()
    if plain and all(c in "0123456789" for c in plain) and len(plain) <= 18:
        assert integer == int(plain) and decimal == int(plain)


@given(st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1))
def test_integers_agree_with_int(number: int):
    forms = [str(number), f"{number:,}", f"{number}.00"]
    assert parse_integers(trim(pa.array(forms))).to_pylist() == [number] * 3


@pytest.mark.parametrize(
    "text",
    ["9223372036854775808", "-9223372036854775809", "1.5", "1e3", "12,34", "1,2345", "1 234",
     "--1", "+", ".", "", "٣"],
)  # fmt: skip
def test_not_integers(text: str):
    assert one(parse_integers, text) is None


def test_decimal_limits():
    assert one(parse_decimals, "9" * 32 + ".999999") == Decimal("9" * 32 + ".999999")
    assert one(parse_decimals, "1" + "0" * 32) is None  # 33 digits before the point
    assert one(parse_decimals, "1.1234560000") == Decimal("1.123456")
    assert one(parse_decimals, "1.2E+07") is None
    assert one(parse_decimals, "１，２００．５") == Decimal("1200.5")


def test_booleans():
    words = ["是", "否", "TRUE", "false", "1", "0", "Y", "n", "yes", "No", "x", "对", None]
    expected = [True, False, True, False, True, False, True, False, True, False, None, None, None]
    assert parse_booleans(trim(pa.array(words))).to_pylist() == expected


JUNK = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=300)
@given(st.lists(st.one_of(st.none(), JUNK), max_size=8))
def test_junk_never_crashes_the_parsers(texts: list[str | None]):
    array = trim(pa.array(texts, pa.string()))
    for parser in (parse_dates, parse_decimals, parse_integers, parse_booleans):
        assert len(parser(array)) == len(texts)


@settings(max_examples=200)
@given(st.lists(st.lists(st.one_of(st.none(), JUNK), min_size=11, max_size=11), max_size=6))
def test_junk_never_crashes_a_batch(rows: list[list[str | None]]):
    columns = list(zip(*rows, strict=True)) if rows else [()] * 11
    values = pa.table([pa.array(list(c), pa.string()) for c in columns], names=[*NAMES, OPERATION])
    numbers = pa.array(range(1, len(rows) + 1), pa.int64())
    result = validate_batch(RawBatch(numbers, values), Plan(people(), "delta", TODAY))
    assert result.accepted.num_rows + len(set(result.quarantine.column("row").to_pylist())) == len(
        rows
    )


# --- row reasons -----------------------------------------------------------------------------


def batch(rows: list[dict[str, str | None]], first: int = 1) -> RawBatch:
    values = pa.table({name: pa.array([r[name] for r in rows], pa.string()) for name in NAMES})
    return RawBatch(pa.array(range(first, first + len(rows)), pa.int64()), values)


def problems(rows: list[dict[str, str | None]]) -> list[tuple[int, str | None, str]]:
    result = validate_batch(batch(rows), Plan(people(), "full", TODAY))
    table = result.quarantine
    return list(
        zip(
            table.column("row").to_pylist(),
            table.column("field").to_pylist(),
            table.column("reason").to_pylist(),
            strict=True,
        )
    )


BAD_CHECK = rid(1)[:-1] + ("0" if rid(1)[-1] != "0" else "1")


@pytest.mark.parametrize(
    ("changes", "field", "reason", "shown"),
    [
        ({"id_number": None}, "id_number", RowReason.MISSING, None),
        ({"id_number": " \u3000 "}, "id_number", RowReason.MISSING, ""),
        ({"id_number": rid(1)[:-2]}, "id_number", RowReason.BAD_LENGTH, "*" * 16),
        ({"id_number": rid(1)[:5] + "A" + rid(1)[6:]}, "id_number", RowReason.BAD_CHARACTER, None),
        ({"id_number": BAD_CHECK}, "id_number", RowReason.BAD_CHECKSUM, resident.mask(BAD_CHECK)),
        ({"id_number": rid(1, birth="19900230")}, "id_number", RowReason.BAD_BIRTH_DATE, None),
        ({"id_number": rid(1, birth="20300101")}, "id_number", RowReason.BAD_BIRTH_DATE, None),
        ({"id_number": rid(1, region="990000")}, "id_number", RowReason.UNKNOWN_REGION, None),
        ({"name": "  "}, "name", RowReason.MISSING_REQUIRED, "  "),
        ({"gender": None}, "gender", RowReason.MISSING_REQUIRED, None),
        ({"gender": "M"}, "gender", RowReason.BAD_ENUM, "M"),
        ({"birth_date": "1990-02-30"}, "birth_date", RowReason.BAD_DATE, "1990-02-30"),
        ({"children": "两个"}, "children", RowReason.BAD_NUMBER, "两个"),
        ({"income": "1.2345678"}, "income", RowReason.BAD_NUMBER, "1********"),
        ({"veteran": "maybe"}, "veteran", RowReason.BAD_BOOLEAN, "maybe"),
        ({"employer_uscc": code(1)[:-1] + "Z"}, "employer_uscc", RowReason.BAD_CHARACTER, None),
        ({"spouse_id_number": BAD_CHECK}, "spouse_id_number", RowReason.BAD_CHECKSUM, None),
        ({"address": None, "name": None}, "name", RowReason.MISSING_REQUIRED, None),
    ],
)
def test_each_row_reason(changes, field: str, reason: RowReason, shown: str | None):
    rows = [person(1), person(2, **changes), person(3)]
    result = validate_batch(batch(rows, first=41), Plan(people(), "full", TODAY))
    entries = result.quarantine.to_pylist()
    assert [(e["row"], e["field"], e["reason"]) for e in entries] == [(42, field, reason.value)]
    entry = entries[0]
    title = next(f.title for f in FIELDS if f.name == field)
    assert entry["message"].startswith(f"{title} ({field}) ")
    raw = changes[field]
    if field in ("id_number", "spouse_id_number") and raw:
        assert entry["value"] == resident.mask(raw)  # never the number itself
        assert raw.strip() not in entry["value"] or len(raw.strip()) < 8
    if shown is not None:
        assert entry["value"] == shown
    assert result.accepted.column("_row").to_pylist() == [41, 43]


def test_several_problems_in_one_row_give_one_entry_each():
    rows = [person(1, gender="X", birth_date="1990-13-01", income="abc")]
    assert problems(rows) == [
        (1, "gender", "bad_enum"),
        (1, "birth_date", "bad_date"),
        (1, "income", "bad_number"),
    ]


def test_typed_values_of_an_accepted_row():
    row = person(
        1,
        id_number=" " + rid(1)[:6] + " " + rid(1)[6:] + " ",
        name="  张三 ",
        birth_date="1990年1月1日",
        children="1,234",
        income=" 12,345.5 ",
        veteran="是",
        employer_uscc=None,
        spouse_id_number="  ",
        address="",
    )
    result = validate_batch(batch([row]), Plan(people(), "full", TODAY))
    assert result.quarantine.num_rows == 0
    assert result.accepted.schema == staged_schema(people(), "full").remove(
        staged_schema(people(), "full").get_field_index("_hash")
    )
    (accepted,) = result.accepted.to_pylist()
    assert accepted == {
        "subject_key": rid(1),
        "id_number": rid(1),
        "name": "张三",
        "gender": "女" if 1 % 2 == 0 else "男",
        "birth_date": dt.date(1990, 1, 1),
        "children": 1234,
        "income": Decimal("12345.500000"),
        "veteran": True,
        "employer_uscc": None,
        "spouse_id_number": None,
        "address": None,
        "_row": 1,
    }


@pytest.mark.parametrize(
    "written",
    [
        lambda n: n.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
        lambda n: n[:6] + n[8:17],  # the legacy 15-digit form
        lambda n: n.lower() + " ",
        lambda n: f"{n[:6]} {n[6:14]} {n[14:]}",
    ],
)
def test_normalised_identifiers_are_accepted_in_normal_form(written):
    numbers = (rid(n, birth="19751231", region="110105") for n in range(1000))
    number = next(n for n in numbers if n.endswith("X"))  # so that the x can be lower-cased
    result = validate_batch(batch([person(1, id_number=written(number))]), Plan(people()))
    assert result.quarantine.num_rows == 0
    assert result.accepted.column("subject_key").to_pylist() == [number]
    assert ric.is_valid(number)  # python-stdnum agrees


# --- delta -----------------------------------------------------------------------------------


def delta(rows: list[dict[str, str | None]], operations: list[str | None]) -> RawBatch:
    raw = batch(rows)
    values = raw.values.append_column(OPERATION, pa.array(operations, pa.string()))
    return RawBatch(raw.rows, values)


def test_operation_spellings():
    spellings = list(OPERATIONS)
    rows = [person(i) for i in range(1, len(spellings) + 1)]
    cased = [s.upper() if s.isascii() else s for s in spellings]
    result = validate_batch(delta(rows, [f" {s} " for s in cased]), Plan(people(), "delta"))
    assert result.accepted.column(OPERATION).to_pylist() == list(OPERATIONS.values())


def test_bad_operations_are_set_aside():
    rows = [person(1), person(2), person(3)]
    result = validate_batch(delta(rows, ["upsert", "merge", None]), Plan(people(), "delta"))
    entries = result.quarantine.to_pylist()
    assert [(e["row"], e["field"], e["reason"]) for e in entries] == [
        (2, OPERATION, "bad_operation"),
        (3, OPERATION, "bad_operation"),
    ]
    assert entries[0]["value"] == "merge"
    assert entries[0]["message"].startswith("the operation is not an operation")


def test_a_delete_needs_only_its_key():
    rows = [
        person(1, name=None, gender="?", birth_date="never"),
        person(2, id_number=BAD_CHECK),
        person(3, name=None),
    ]
    result = validate_batch(delta(rows, ["D", "删除", "U"]), Plan(people(), "delta"))
    assert [(e["row"], e["reason"]) for e in result.quarantine.to_pylist()] == [
        (2, "bad_checksum"),
        (3, "missing_required"),
    ]
    (accepted,) = result.accepted.to_pylist()
    assert accepted["subject_key"] == rid(1) and accepted["_op"] == "delete"
    assert all(accepted[name] is None for name in NAMES if name != "id_number")
