"""Validate every row of a batch at once, column by column, and type the values that pass.

Nothing here loops over rows in Python: each check is a pyarrow.compute kernel, a numpy
expression or the identifiers module's bulk API over a whole column. A batch comes in as text
(:class:`~exchange.ingest.read.RawBatch`) and leaves as the typed rows that passed every check
plus quarantine entries (one per failing row and field) for the rest.

Rules, per catalogue field type (every value is first trimmed of surrounding whitespace, and
whitespace only counts as empty):

* the **key**: the identifier check of its kind (resident ID or USCC, with the identifiers
  module's normalisation: full-width digits, spaces, ``x``, legacy 15-digit IDs) and its
  reason; empty is ``missing``. Its normalised value is the ``subject_key``.
* other ``resident_id`` / ``uscc`` fields: the same check; empty is fine unless required.
* any required field: empty is ``missing_required``.
* ``date``: ``YYYY-MM-DD``, also ``YYYY/MM/DD``, ``YYYYMMDD`` and ``YYYY年M月D日`` (month and day
  may have one digit except in ``YYYYMMDD``), a real calendar date in years 1-9999, else
  ``bad_date`` (:func:`parse_dates`).
* ``integer`` and ``decimal``: digits with an optional sign and decimal point, thousands
  separators allowed only in correct groups of three (``1,234,567.5``); no exponent (``1.2E+07``
  in a department's file is a number Excel has already rounded). An integer may have a zero
  fraction (``12.00``) and must fit int64; a decimal may have at most 6 decimals (trailing zeros
  beyond are fine) and 32 integer digits, the staged ``decimal128(38, 6)``. Else ``bad_number``
  (:func:`parse_decimals`, :func:`parse_integers`).
* ``enum``: exactly one of the declared values, else ``bad_enum``.
* ``boolean``: 是/否, true/false, yes/no, y/n, t/f, 1/0 (ASCII case-insensitive), else
  ``bad_boolean`` (:func:`parse_booleans`).
* ``string``: any text.

Dates and numbers are also folded with Unicode NFKC first, so full-width digits typed with a
Chinese input method (``２０２４年１月５日``, ``１，２００``) are read as what they mean.

In a delta batch the operation column must say ``upsert`` or ``delete`` (:data:`OPERATIONS`
lists the spellings accepted), else ``bad_operation``; a delete row needs only its key, and its
other fields are neither validated nor kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.schema import Dataset, DatasetField, FieldType, KeyKind
from exchange.identifiers.bulk import validate_resident, validate_uscc
from exchange.ingest.errors import RowReason
from exchange.ingest.quarantine import PENDING_SCHEMA, Masking, entries, masking_for
from exchange.ingest.read import OPERATION, Mode, RawBatch

__all__ = [
    "DECIMAL_TYPE",
    "FIELD_TYPES",
    "HASH",
    "OPERATIONS",
    "ROW",
    "SUBJECT_KEY",
    "Plan",
    "Validated",
    "parse_booleans",
    "parse_dates",
    "parse_decimals",
    "parse_integers",
    "staged_schema",
    "trim",
    "validate_batch",
]

SUBJECT_KEY = "subject_key"
ROW = "_row"
HASH = "_hash"
DECIMAL_TYPE = pa.decimal128(38, 6)
FIELD_TYPES: dict[FieldType, pa.DataType] = {
    FieldType.STRING: pa.string(),
    FieldType.ENUM: pa.string(),
    FieldType.RESIDENT_ID: pa.string(),
    FieldType.USCC: pa.string(),
    FieldType.DATE: pa.date32(),
    FieldType.INTEGER: pa.int64(),
    FieldType.DECIMAL: DECIMAL_TYPE,
    FieldType.BOOLEAN: pa.bool_(),
}
#: Spellings of the two operations of a delta batch (compared trimmed, ASCII lower-cased).
OPERATIONS: dict[str, str] = {
    **dict.fromkeys(["upsert", "u", "i", "insert", "update", "新增", "修改"], "upsert"),
    **dict.fromkeys(["delete", "d", "删除"], "delete"),
}
_BOOLEANS: dict[str, bool] = {
    **dict.fromkeys(["是", "true", "yes", "y", "t", "1"], True),
    **dict.fromkeys(["否", "false", "no", "n", "f", "0"], False),
}

_DATE_FORMS = (
    (r"^([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})$", r"\1-\2-\3"),
    (r"^([0-9]{4})([0-9]{2})([0-9]{2})$", r"\1-\2-\3"),
    (r"^([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日$", r"\1-\2-\3"),
)
_ISO_DATE = r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$"
_DASH = np.uint8((ord("-") - ord("0")) % 256)  # "-" minus "0", wrapped like the byte arithmetic
_NUMBER = r"^[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)(?:\.[0-9]*)?$"
_DECIMAL = r"^[+-]?[0-9]*(?:\.[0-9]{0,6}0*)?$"
_INTEGER = r"^[+-]?[0-9]+(?:\.0*)?$"
_INTEGER_DIGITS = r"^[+-]?0*([0-9]*).*$"
_MAX_INTEGER_DIGITS = 32  # of decimal128(38, 6)
_INT64_MAX = str(np.iinfo(np.int64).max)

_IDENTIFIER_MESSAGES = {
    RowReason.MISSING: "is empty; every record needs its key",
    RowReason.BAD_CHARACTER: "has a character that is not allowed there",
    RowReason.BAD_CHECKSUM: "check character (the last one) does not match the others",
    RowReason.BAD_BIRTH_DATE: (
        "birth date (characters 7-14) is not a real date, is in the future or before 1880"
    ),
    RowReason.UNKNOWN_REGION: "region code (characters 1-6) is not a known division",
}
_LENGTH_MESSAGES = {
    KeyKind.RESIDENT: "does not have 18 characters (or 15 for an old ID)",
    KeyKind.USCC: "does not have 18 characters",
}
_MESSAGES = {
    RowReason.MISSING_REQUIRED: "is empty, but the field is required",
    RowReason.BAD_DATE: (
        "is not a real date written YYYY-MM-DD (or YYYY/MM/DD, YYYYMMDD, YYYY年M月D日)"
    ),
    RowReason.BAD_BOOLEAN: "is not yes or no (是/否, true/false, 1/0, Y/N)",
    RowReason.BAD_OPERATION: "is not an operation: upsert (U, I, 新增, 修改) or delete (D, 删除)",
}
_NUMBER_MESSAGES = {
    FieldType.INTEGER: "is not a whole number that fits 64 bits (digits, sign, 1,234 groups)",
    FieldType.DECIMAL: "is not a number with at most 32 digits before the point and 6 after",
}


def staged_schema(dataset: Dataset, mode: Mode) -> pa.Schema:
    """The staged file's schema: ``subject_key``, the fields typed, ``_row``, ``_hash`` and,
    in a delta batch, ``_op``."""
    fields = [pa.field(SUBJECT_KEY, pa.string())]
    fields += [pa.field(f.name, FIELD_TYPES[f.type]) for f in dataset.fields]
    fields += [pa.field(ROW, pa.int64()), pa.field(HASH, pa.string())]
    if mode == "delta":
        fields.append(pa.field(OPERATION, pa.string()))
    return pa.schema(fields)


@dataclass(frozen=True)
class Plan:
    """What validating a batch of one dataset needs, fixed for the whole file."""

    dataset: Dataset
    mode: Mode = "full"
    today: date = field(default_factory=date.today)

    @cached_property
    def schema(self) -> pa.Schema:
        return staged_schema(self.dataset, self.mode)


@dataclass(frozen=True)
class Validated:
    """``accepted``: the rows without any problem, typed per :func:`staged_schema` (without
    ``_hash``); ``quarantine``: an entry per failing row and field."""

    accepted: pa.Table
    quarantine: pa.Table


@dataclass(frozen=True)
class _Checked:
    values: pa.Array  # typed, null where empty or invalid
    reasons: pa.Array  # string, null where fine


def trim(text: pa.Array) -> pa.Array:
    """Surrounding whitespace removed; empty (or whitespace only) becomes null."""
    trimmed = pc.utf8_trim_whitespace(text)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _fold(text: pa.Array) -> pa.Array:
    """Unicode NFKC (full-width digits, letters and punctuation to ASCII), when needed."""
    if pc.all(pc.string_is_ascii(text)).as_py() is False:
        return pc.utf8_normalize(text, "NFKC")
    return text


def _matches(text: pa.Array, pattern: str) -> np.ndarray:
    return pc.fill_null(pc.match_substring_regex(text, pattern), False).to_numpy(
        zero_copy_only=False
    )


def parse_dates(text: pa.Array) -> pa.Array:
    """Trimmed text to ``date32``; null where empty or not a date (see the module docstring).

    The usual ``YYYY-MM-DD`` is read straight from the Arrow buffer as a ``(n, 10)`` byte
    matrix; only the other forms go through regular expressions.
    """
    text = _fold(text)
    days = np.zeros(len(text), dtype=np.int32)
    valid = np.zeros(len(text), dtype=bool)
    ten = np.flatnonzero(pc.fill_null(pc.equal(pc.binary_length(text), 10), False))
    # One row per character position, contiguous; non-digits wrap around to values above 9.
    digits = np.ascontiguousarray(_byte_matrix(text.take(ten), 10).T) - np.uint8(ord("0"))
    iso = (digits[4] == _DASH) & (digits[7] == _DASH)
    iso &= digits[[0, 1, 2, 3, 5, 6, 8, 9]].max(axis=0, initial=0) <= 9
    digits = digits[:, iso].astype(np.int32)
    fast = ten[iso]
    days[fast], valid[fast] = _calendar(
        ((digits[0] * 10 + digits[1]) * 10 + digits[2]) * 10 + digits[3],
        digits[5] * 10 + digits[6],
        digits[8] * 10 + digits[9],
    )

    others = pc.is_valid(text).to_numpy(zero_copy_only=False)
    others[fast] = False
    rest = np.flatnonzero(others)
    if len(rest):
        other = text.take(rest)
        for pattern, replacement in _DATE_FORMS:
            other = pc.replace_substring_regex(other, pattern, replacement)
        iso_form = _matches(other, _ISO_DATE)
        matched = rest[iso_form]
        parts = pc.split_pattern(other.filter(pa.array(iso_form)), "-")
        numbers = pc.cast(pc.list_flatten(parts), pa.int32()).to_numpy().reshape(-1, 3)
        days[matched], valid[matched] = _calendar(numbers[:, 0], numbers[:, 1], numbers[:, 2])
    return pa.array(days, pa.date32(), mask=~valid)


def _byte_matrix(text: pa.Array, width: int) -> np.ndarray:
    """The UTF-8 bytes of strings that all have ``width`` bytes, as an ``(n, width)`` matrix."""
    fixed = text.cast(pa.binary()).cast(pa.binary(width))
    if len(fixed) == 0:
        return np.zeros((0, width), dtype=np.uint8)
    data = np.frombuffer(fixed.buffers()[1], dtype=np.uint8)
    return data[fixed.offset * width : (fixed.offset + len(fixed)) * width].reshape(-1, width)


def _calendar(
    year: np.ndarray, month: np.ndarray, day: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1970-01-01 of the dates ``year-month-day``, and whether each is a real date
    (year 1-9999; the day within its month)."""
    plausible = (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
    year = np.where(plausible, year, 1970)
    month_start = (year - 1970).astype("datetime64[Y]").astype("datetime64[M]")
    month_start = month_start + (np.where(plausible, month, 1) - 1).astype("timedelta64[M]")
    days = month_start.astype("datetime64[D]") + (np.where(plausible, day, 1) - 1)
    real = plausible & (days.astype("datetime64[M]") == month_start)  # no 30 February
    return days.astype(np.int64).astype(np.int32), real


def _number_text(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Numbers as plain ASCII text (thousands separators removed) and whether the grammar
    (sign, digits in correct groups, point, at least one digit) holds."""
    text = _fold(text)
    valid = _matches(text, _NUMBER) & _matches(text, "[0-9]")
    return pc.replace_substring(text, ",", ""), valid


def _integer_digits(plain: pa.Array) -> pa.Array:
    """The digits before the point, without sign and leading zeros."""
    return pc.replace_substring_regex(plain, _INTEGER_DIGITS, r"\1")


def parse_decimals(text: pa.Array) -> pa.Array:
    """Trimmed text to ``decimal128(38, 6)``; null where empty or not such a number."""
    plain, valid = _number_text(text)
    valid &= _matches(plain, _DECIMAL)
    length = pc.fill_null(pc.utf8_length(_integer_digits(plain)), 0).to_numpy(zero_copy_only=False)
    valid &= length <= _MAX_INTEGER_DIGITS
    return pc.cast(pc.if_else(pa.array(valid), plain, pa.scalar(None, pa.string())), DECIMAL_TYPE)


def parse_integers(text: pa.Array) -> pa.Array:
    """Trimmed text to ``int64``; null where empty or not a whole number in range."""
    plain, valid = _number_text(text)
    valid &= _matches(plain, _INTEGER)
    digits = _integer_digits(plain)
    length = pc.fill_null(pc.utf8_length(digits), 0).to_numpy(zero_copy_only=False)
    in_range = pc.fill_null(pc.less_equal(digits, _INT64_MAX), False).to_numpy(zero_copy_only=False)
    valid &= (length < len(_INT64_MAX)) | ((length == len(_INT64_MAX)) & in_range)
    whole = pc.replace_substring_regex(pc.replace_substring_regex(plain, r"\..*$", ""), r"^\+", "")
    return pc.cast(pc.if_else(pa.array(valid), whole, pa.scalar(None, pa.string())), pa.int64())


def _lookup(text: pa.Array, table: dict[str, object], kind: pa.DataType) -> pa.Array:
    """Trimmed text to the value ``table`` gives its ASCII-lower-cased form; null if absent."""
    keys = pa.array(list(table), pa.string())
    index = pc.index_in(pc.ascii_lower(text), value_set=keys)
    return pa.array(list(table.values()), kind).take(index)


def parse_booleans(text: pa.Array) -> pa.Array:
    """Trimmed text to ``bool``; null where empty or not a yes/no word."""
    return _lookup(text, _BOOLEANS, pa.bool_())


def _reasons(bad: pa.Array, reason: RowReason) -> pa.Array:
    """``reason`` where ``bad`` is true, else null."""
    return pc.if_else(
        pc.fill_null(bad, False), pa.scalar(reason.value), pa.scalar(None, pa.string())
    )


def _required(text: pa.Array, entry: DatasetField, reasons: pa.Array) -> pa.Array:
    """``reasons`` plus ``missing_required`` where a required field is empty."""
    if not entry.required:
        return reasons
    return pc.if_else(pc.is_null(text), pa.scalar(RowReason.MISSING_REQUIRED.value), reasons)


_PARSERS: dict[FieldType, Callable[[pa.Array], pa.Array]] = {
    FieldType.DATE: parse_dates,
    FieldType.INTEGER: parse_integers,
    FieldType.DECIMAL: parse_decimals,
    FieldType.BOOLEAN: parse_booleans,
}
_PARSE_REASONS = {
    FieldType.DATE: RowReason.BAD_DATE,
    FieldType.INTEGER: RowReason.BAD_NUMBER,
    FieldType.DECIMAL: RowReason.BAD_NUMBER,
    FieldType.BOOLEAN: RowReason.BAD_BOOLEAN,
}


def _check(raw: pa.Array, entry: DatasetField, *, key: bool, plan: Plan) -> _Checked:
    """Validate and type one column."""
    if entry.type in (FieldType.RESIDENT_ID, FieldType.USCC):
        if entry.type is FieldType.RESIDENT_ID:
            result = validate_resident(raw, today=plan.today)
        else:
            result = validate_uscc(raw)
        reasons = result.reason.combine_chunks().dictionary_decode()
        if not key:  # empty is fine in an optional field, missing_required in a required one
            missing = pc.fill_null(pc.equal(reasons, RowReason.MISSING.value), False)
            instead = RowReason.MISSING_REQUIRED.value if entry.required else None
            reasons = pc.if_else(missing, pa.scalar(instead, pa.string()), reasons)
        return _Checked(result.normalised.combine_chunks(), reasons)
    text = trim(raw)
    if entry.type is FieldType.ENUM:
        valid = pc.is_in(text, value_set=pa.array(entry.values, pa.string()))
        bad = pc.and_(pc.is_valid(text), pc.invert(valid))
        return _Checked(text, _required(text, entry, _reasons(bad, RowReason.BAD_ENUM)))
    parser = _PARSERS.get(entry.type)
    if parser is None:  # a string: any text
        return _Checked(text, _required(text, entry, pa.nulls(len(text), pa.string())))
    values = parser(text)
    bad = pc.and_(pc.is_valid(text), pc.is_null(values))
    return _Checked(values, _required(text, entry, _reasons(bad, _PARSE_REASONS[entry.type])))


def _field_messages(entry: DatasetField) -> dict[str, str]:
    """The message of each reason a field can have, naming the field."""
    texts: dict[RowReason, str] = {**_IDENTIFIER_MESSAGES, **_MESSAGES}
    kind = KeyKind.USCC if entry.type is FieldType.USCC else KeyKind.RESIDENT
    texts[RowReason.BAD_LENGTH] = _LENGTH_MESSAGES[kind]
    texts[RowReason.BAD_ENUM] = "is not one of " + " | ".join(entry.values)
    if entry.type in _NUMBER_MESSAGES:
        texts[RowReason.BAD_NUMBER] = _NUMBER_MESSAGES[entry.type]
    return {reason.value: f"{entry.title} ({entry.name}) {text}" for reason, text in texts.items()}


_OPERATION_MESSAGES = {
    RowReason.BAD_OPERATION.value: "the operation " + _MESSAGES[RowReason.BAD_OPERATION]
}


def _messages(reasons: pa.Array, texts: dict[str, str]) -> pa.Array:
    keys = pa.array(list(texts), pa.string())
    return pa.array(list(texts.values()), pa.string()).take(pc.index_in(reasons, value_set=keys))


def _operations(raw: pa.Array) -> _Checked:
    operations = _lookup(trim(raw), OPERATIONS, pa.string())
    return _Checked(operations, _reasons(pc.is_null(operations), RowReason.BAD_OPERATION))


class _Findings:
    """The quarantine entries of a batch, and which rows have any."""

    def __init__(self, rows: pa.Array) -> None:
        self.rows = rows
        self.problems = np.zeros(len(rows), dtype=bool)
        self.tables: list[pa.Table] = []

    def add(
        self,
        checked: _Checked,
        raw: pa.Array,
        *,
        field: str,
        order: int,
        messages: dict[str, str],
        masking: Masking,
    ) -> None:
        bad = pc.is_valid(checked.reasons).to_numpy(zero_copy_only=False)
        if not bad.any():
            return
        self.problems |= bad
        where = pa.array(np.flatnonzero(bad))
        reasons = checked.reasons.take(where)
        self.tables.append(
            entries(
                rows=self.rows.take(where),
                field=field,
                values=raw.take(where),
                reasons=reasons,
                messages=_messages(reasons, messages),
                order=order,
                masking=masking,
            )
        )

    def table(self) -> pa.Table:
        return pa.concat_tables(self.tables) if self.tables else PENDING_SCHEMA.empty_table()


def validate_batch(batch: RawBatch, plan: Plan) -> Validated:
    """Validate one batch: the typed rows that passed, and the quarantine entries of the rest."""
    dataset = plan.dataset
    findings = _Findings(batch.rows)
    columns: dict[str, pa.Array] = {}
    deletes: pa.Array | None = None
    if plan.mode == "delta":
        raw = batch.values.column(OPERATION).combine_chunks()
        operations = _operations(raw)
        findings.add(
            operations,
            raw,
            field=OPERATION,
            order=len(dataset.fields),
            messages=_OPERATION_MESSAGES,
            masking=Masking.NONE,
        )
        deletes = pc.fill_null(pc.equal(operations.values, "delete"), False)
        columns[OPERATION] = operations.values

    for order, entry in enumerate(dataset.fields):
        raw = batch.values.column(entry.name).combine_chunks()
        key = entry.name == dataset.key.field
        checked = _check(raw, entry, key=key, plan=plan)
        if deletes is not None and not key:  # a delete row carries only its key
            checked = _Checked(
                pc.if_else(deletes, pa.scalar(None, checked.values.type), checked.values),
                pc.if_else(deletes, pa.scalar(None, pa.string()), checked.reasons),
            )
        findings.add(
            checked,
            raw,
            field=entry.name,
            order=order,
            messages=_field_messages(entry),
            masking=masking_for(entry),
        )
        columns[entry.name] = checked.values

    columns[SUBJECT_KEY] = columns[dataset.key.field]
    columns[ROW] = batch.rows
    names = [name for name in plan.schema.names if name != HASH]
    table = pa.Table.from_arrays([columns[name] for name in names], names=names)
    return Validated(
        accepted=table.filter(pa.array(~findings.problems)), quarantine=findings.table()
    )
