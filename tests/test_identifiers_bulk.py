"""The bulk API: every container it accepts, every reason and normalisation (checked against
the scalar path), batching and blocking, and the shape of its result."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from exchange.identifiers import bulk, kernels, resident, uscc
from exchange.identifiers.bulk import REASON_TYPE, BulkResult, validate_resident, validate_uscc
from exchange.identifiers.errors import IdentifierError

TODAY = date(2025, 6, 30)
GB_EXAMPLE = "11010519491231002X"

# (input, normalised, reason): one row per rule; the scalar path must say the same.
RESIDENT_CASES = [
    (GB_EXAMPLE, GB_EXAMPLE, None),
    ("360426199101010071", "360426199101010071", None),
    ("11010519491231002x", GB_EXAMPLE, None),
    ("１１０１０５１９４９１２３１００２Ｘ", GB_EXAMPLE, None),
    ("110105 19491231 002X", GB_EXAMPLE, None),
    ("110105\u300019491231\u3000002ｘ", GB_EXAMPLE, None),
    ("\ufeff110105-19491231-002X\r", GB_EXAMPLE, None),
    ("110105491231002", GB_EXAMPLE, None),
    ("１１０１０５４９１２３１００２", GB_EXAMPLE, None),
    (None, None, "missing"),
    ("", None, "missing"),
    (" \t\u3000", None, "missing"),
    ("11010519491231002", None, "bad_length"),
    ("11010519491231002X1", None, "bad_length"),
    ("１２３", None, "bad_length"),
    ("1101A519491231002X", None, "bad_character"),
    ("11010519491231002A", None, "bad_character"),
    ("1101051949123100٢X", None, "bad_character"),  # non-ASCII, 18 characters
    ("11010549123100A", None, "bad_character"),  # 15 characters, not all digits
    ("11010519491231003X", None, "bad_checksum"),
    ("110105194913310021", None, "bad_birth_date"),  # month 13
    ("110105187912310024", None, "bad_birth_date"),  # before 1880
    ("110105202507010020", None, "bad_birth_date"),  # the day after TODAY
    ("990105194912310023", None, "unknown_region"),
    ("330199198001010017", None, "unknown_region"),  # stdnum: KeyError
    ("33010619500101001X", "33010619500101001X", None),  # stdnum: county not yet in use
]
USCC_CASES = [
    ("91110000600037341L", "91110000600037341L", None, None),
    ("914403001922038216", "914403001922038216", None, None),
    ("91110000600037342P", "91110000600037342P", None, "bad_organisation_code"),
    ("Y1110000600037341Y", "Y1110000600037341Y", None, None),
    ("91110000600037341l", "91110000600037341L", None, None),
    ("９１１１００００６０００３７３４１Ｌ", "91110000600037341L", None, None),
    ("9111 0000 6000 3734-1L", "91110000600037341L", None, None),
    ("9111 0000 6000 3734 2p", "91110000600037342P", None, "bad_organisation_code"),
    (None, None, "missing", None),
    ("", None, "missing", None),
    ("9111000060003734", None, "bad_length", None),
    ("9111000060003734IL", None, "bad_character", None),
    ("911A0000600037341L", None, "bad_character", None),
    ("91110000600037341Ｚ", None, "bad_character", None),
    ("91110000600037341M", None, "bad_checksum", None),
]


def scalar_resident(value: str | None) -> tuple[str | None, str | None]:
    try:
        return resident.validate(value, today=TODAY), None  # type: ignore[arg-type]
    except IdentifierError as error:
        return None, error.reason.value


def scalar_uscc(value: str | None) -> tuple[str | None, str | None, str | None]:
    try:
        normalised = uscc.validate(value)  # type: ignore[arg-type]
    except IdentifierError as error:
        return None, error.reason.value, None
    warning = uscc.warning(normalised)
    return normalised, None, warning.value if warning else None


def rows(result: BulkResult) -> list[tuple]:
    return list(
        zip(
            result.normalised.to_pylist(),
            result.reason.to_pylist(),
            result.warning.to_pylist(),
            strict=True,
        )
    )


def test_resident_cases_agree_with_scalar():
    values = [case[0] for case in RESIDENT_CASES]
    result = validate_resident(pa.array(values, pa.string()), today=TODAY)
    expected = [(normalised, reason, None) for _, normalised, reason in RESIDENT_CASES]
    assert rows(result) == expected
    assert [scalar_resident(value) for value in values] == [row[:2] for row in expected]


def test_uscc_cases_agree_with_scalar():
    values = [case[0] for case in USCC_CASES]
    result = validate_uscc(pa.array(values, pa.string()))
    expected = [case[1:] for case in USCC_CASES]
    assert rows(result) == expected
    assert [scalar_uscc(value) for value in values] == expected


def test_today_bounds_birth_dates():
    values = pa.array(["110105202507010020"])
    assert validate_resident(values, today=TODAY).reason.to_pylist() == ["bad_birth_date"]
    assert validate_resident(values, today=date(2025, 7, 1)).reason.to_pylist() == [None]


def test_result_types_and_helpers():
    values = pa.array([GB_EXAMPLE, "1", None, "11010519491231003X", "x"])
    result = validate_resident(values, today=TODAY)
    assert len(result) == 5
    assert isinstance(result.normalised, pa.ChunkedArray)
    assert result.normalised.type == pa.string()
    assert result.reason.type == REASON_TYPE == result.warning.type
    assert result.valid.to_pylist() == [True, False, False, False, False]
    assert result.reason_counts() == {"bad_length": 2, "missing": 1, "bad_checksum": 1}
    table = result.to_table()
    assert table.column_names == ["normalised", "reason", "warning"]
    assert table.num_rows == 5


MIXED = [GB_EXAMPLE, "110105491231002", None, "11010519491231002x", "bad", "", GB_EXAMPLE]
MIXED_EXPECTED = [GB_EXAMPLE, GB_EXAMPLE, None, GB_EXAMPLE, None, None, GB_EXAMPLE]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: pa.array(MIXED, pa.string()), id="string"),
        pytest.param(lambda: pa.array(MIXED, pa.large_string()), id="large_string"),
        pytest.param(lambda: pa.array(MIXED, pa.string_view()), id="string_view"),
        pytest.param(lambda: pa.array(MIXED).dictionary_encode(), id="dictionary"),
        pytest.param(lambda: pa.array(["x", *MIXED, "y"]).slice(1, len(MIXED)), id="slice"),
        pytest.param(
            lambda: pa.chunked_array(
                [pa.array(MIXED[:2]), pa.array([], pa.string()), pa.array(MIXED[2:])]
            ),
            id="chunked",
        ),
        pytest.param(
            lambda: pa.chunked_array(
                [pa.array(MIXED[:3], pa.large_string()), pa.array(MIXED[3:], pa.large_string())]
            ),
            id="chunked-large",
        ),
    ],
)
def test_accepted_arrays(make):
    result = validate_resident(make(), today=TODAY)
    assert result.normalised.to_pylist() == MIXED_EXPECTED


def test_arrow_table_and_record_batch_with_column():
    table = pa.table({"other": range(len(MIXED)), "身份证号": MIXED})
    for container in (table, table.to_batches()[0]):
        result = validate_resident(container, column="身份证号", today=TODAY)
        assert result.normalised.to_pylist() == MIXED_EXPECTED


def test_duckdb_relation_with_column():
    connection = duckdb.connect()
    connection.register("t", pa.table({"id number": MIXED, "n": range(len(MIXED))}))
    relation = connection.sql("SELECT * FROM t ORDER BY n")
    result = validate_resident(relation, column="id number", today=TODAY)
    assert result.normalised.to_pylist() == MIXED_EXPECTED
    codes = connection.sql("SELECT '91110000600037342P' AS uscc")
    assert validate_uscc(codes, column="uscc").warning.to_pylist() == ["bad_organisation_code"]


def test_all_null_and_empty_columns():
    assert validate_resident(pa.nulls(3)).reason.to_pylist() == ["missing"] * 3
    empty = validate_uscc(pa.chunked_array([], pa.string()))
    assert len(empty) == 0 and empty.normalised.type == pa.string()


def test_null_slot_with_data_under_it_is_missing():
    """Arrow allows bytes under a null slot: they must not be read as a value."""
    base = pa.array([GB_EXAMPLE, GB_EXAMPLE])
    validity = pa.array([True, False]).buffers()[1]
    array = pa.Array.from_buffers(pa.string(), 2, [validity, *base.buffers()[1:]])
    assert array.to_pylist() == [GB_EXAMPLE, None]
    assert validate_resident(array, today=TODAY).reason.to_pylist() == [None, "missing"]


@pytest.mark.parametrize(
    ("values", "column", "message"),
    [
        (pa.array([1, 2]), None, "expected a column of strings, got int64"),
        (pa.array(["a"]), "v", "column= is only for"),
        (pa.table({"v": ["a"]}), None, "needs column="),
        (["11010519491231002X"], None, "expected an Arrow array"),
    ],
)
def test_rejected_inputs(values, column, message):
    with pytest.raises(TypeError, match=message):
        validate_resident(values, column=column)


def test_relation_without_column_is_rejected():
    with pytest.raises(TypeError, match="needs column="):
        validate_uscc(duckdb.connect().sql("SELECT 1 AS v"))


def test_batches_and_blocks_do_not_change_results(monkeypatch: pytest.MonkeyPatch):
    """Tiny batches and kernel blocks (many small chunks joined, big ones sliced) give the
    same answers as one batch."""
    values = pa.array([case[0] for case in RESIDENT_CASES] * 7, pa.string())
    expected = rows(validate_resident(values, today=TODAY))
    monkeypatch.setattr(bulk, "BATCH", 8)
    monkeypatch.setattr(kernels, "BLOCK", 3)
    chunked = pa.chunked_array([values.slice(i, 3) for i in range(0, len(values), 3)])
    assert rows(validate_resident(chunked, today=TODAY)) == expected
    assert rows(validate_resident(values, today=TODAY)) == expected
    codes = pa.array([case[0] for case in USCC_CASES] * 5, pa.string())
    monkeypatch.undo()
    expected_uscc = rows(validate_uscc(codes))
    monkeypatch.setattr(bulk, "BATCH", 4)
    monkeypatch.setattr(kernels, "BLOCK", 2)
    assert rows(validate_uscc(codes)) == expected_uscc


def test_input_buffers_are_not_modified():
    values = pa.array(["11010519491231002x", GB_EXAMPLE, "91110000600037341l"])
    before = [np.frombuffer(buffer, np.uint8).copy() for buffer in values.buffers()[1:]]
    validate_resident(values, today=TODAY)
    validate_uscc(values)
    after = [np.frombuffer(buffer, np.uint8) for buffer in values.buffers()[1:]]
    assert all((a == b).all() for a, b in zip(before, after, strict=True))
