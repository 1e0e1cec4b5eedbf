"""Realistic errors, injected into a dataset's rows, with the ground truth of each.

Departments' extracts carry the mistakes of the people and systems that made them: a mistyped
check character, an ID typed in full-width digits by an input method, a legacy 15-digit ID from
an old system, a date that does not exist, an empty required cell, a record sent twice. Ingest
must reject some of these with a reason and accept others after normalising them; the ground
truth says which, so the ingest tests can compare what ingest did with what it should have done.

Rules that keep the ground truth unambiguous:

* the number of errors is ``round(rate × rows)`` per dataset, split evenly among the kinds the
  dataset can carry (a dataset without a resident ID field cannot get a legacy 15-digit ID);
* a row gets at most one error, and a duplicated row is one that has no other error;
* an identifier error goes to the dataset's key three times as often as to another identifier
  field (a spouse's ID, an employer's USCC).

Every kind fits every format the catalogue uses: dates are text in all of them (see `writers`),
so an impossible date can be written even in Parquet, and a missing value is an empty cell or a
null. An empty required identifier field is a `missing_required` error, the field-level reason,
even though the identifier check alone would call it `missing`.

The ground truth holds the raw (unmasked) identifiers: it is test data about made-up people.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from catalog.schema import Dataset, FieldType
from exchange.synth.checksums import USCC_ALPHABET, ric_check_char


class ErrorKind(StrEnum):
    BAD_CHECK_CHARACTER = "bad_check_character"
    IMPOSSIBLE_BIRTH_DATE = "impossible_birth_date"
    FULL_WIDTH_DIGITS = "full_width_digits"
    LOWER_CASE_X = "lower_case_x"
    LEGACY_15_DIGIT = "legacy_15_digit"
    SPACES_IN_IDENTIFIER = "spaces_in_identifier"
    MISSING_REQUIRED = "missing_required"
    IMPOSSIBLE_DATE = "impossible_date"
    DUPLICATE_CONFLICT = "duplicate_conflict"
    IDENTICAL_DUPLICATE = "identical_duplicate"

    @property
    def expected_reason(self) -> str | None:
        """The reason ingest must give for the row, or None where it must accept it."""
        return _EXPECTED_REASONS[self]


_EXPECTED_REASONS: dict[ErrorKind, str | None] = {
    ErrorKind.BAD_CHECK_CHARACTER: "bad_checksum",
    ErrorKind.IMPOSSIBLE_BIRTH_DATE: "bad_birth_date",
    ErrorKind.FULL_WIDTH_DIGITS: None,
    ErrorKind.LOWER_CASE_X: None,
    ErrorKind.LEGACY_15_DIGIT: None,
    ErrorKind.SPACES_IN_IDENTIFIER: None,
    ErrorKind.MISSING_REQUIRED: "missing_required",
    ErrorKind.IMPOSSIBLE_DATE: "bad_date",
    ErrorKind.DUPLICATE_CONFLICT: "duplicate_conflict",
    ErrorKind.IDENTICAL_DUPLICATE: None,
}

#: Kinds in the order rows are given out: the pickiest first, while most rows are still free.
_ORDER = (
    ErrorKind.LOWER_CASE_X,
    ErrorKind.LEGACY_15_DIGIT,
    ErrorKind.IMPOSSIBLE_BIRTH_DATE,
    ErrorKind.BAD_CHECK_CHARACTER,
    ErrorKind.FULL_WIDTH_DIGITS,
    ErrorKind.SPACES_IN_IDENTIFIER,
    ErrorKind.MISSING_REQUIRED,
    ErrorKind.IMPOSSIBLE_DATE,
    ErrorKind.DUPLICATE_CONFLICT,
    ErrorKind.IDENTICAL_DUPLICATE,
)
_ROW_KINDS = (ErrorKind.DUPLICATE_CONFLICT, ErrorKind.IDENTICAL_DUPLICATE)
_RESIDENT_KINDS = (
    ErrorKind.IMPOSSIBLE_BIRTH_DATE,
    ErrorKind.LOWER_CASE_X,
    ErrorKind.LEGACY_15_DIGIT,
)
_IDENTIFIER_KINDS = (
    ErrorKind.BAD_CHECK_CHARACTER,
    ErrorKind.FULL_WIDTH_DIGITS,
    ErrorKind.SPACES_IN_IDENTIFIER,
)
KEY_WEIGHT = 3.0
_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")

GROUND_TRUTH_SCHEMA = pa.schema(
    [
        ("dataset", pa.string()),
        ("file", pa.string()),
        ("row", pa.int64()),
        ("field", pa.string()),
        ("kind", pa.string()),
        ("expected_reason", pa.string()),
        ("original_value", pa.string()),
        ("written_value", pa.string()),
    ]
)


@dataclass(frozen=True)
class Truth:
    """One injected error as it appears in the written file (row: 1-based data record)."""

    row: int
    field: str
    kind: ErrorKind
    original_value: str | None
    written_value: str | None


@dataclass
class Injection:
    table: pa.Table  # the rows to write, errors and duplicates included
    truth: list[Truth] = field(default_factory=list)

    @property
    def errors(self) -> dict[ErrorKind, int]:
        """Errors injected by kind (a conflicting pair counts once)."""
        counts: dict[ErrorKind, int] = defaultdict(int)
        for entry in self.truth:
            counts[entry.kind] += 1
        if ErrorKind.DUPLICATE_CONFLICT in counts:
            counts[ErrorKind.DUPLICATE_CONFLICT] //= 2
        return dict(counts)


def inject(table: pa.Table, dataset: Dataset, rate: float, rng: np.random.Generator) -> Injection:
    """Put ``round(rate × rows)`` errors into `table` (text columns named by field)."""
    rows = table.num_rows
    candidates = _candidate_fields(dataset)
    kinds = [k for k in _ORDER if k in _ROW_KINDS or candidates[k]]
    quotas = _quotas(round(rate * rows), kinds, rng)
    used = np.zeros(rows, dtype=bool)
    changes: dict[str, dict[int, str | None]] = defaultdict(dict)
    cell_truth: list[tuple[int, str, ErrorKind, str | None, str | None]] = []

    for kind in kinds:
        if kind in _ROW_KINDS or not quotas[kind]:
            continue
        fields = candidates[kind]
        weights = np.array([KEY_WEIGHT if f == dataset.key.field else 1.0 for f in fields])
        per_field = np.bincount(
            rng.choice(len(fields), quotas[kind], p=weights / weights.sum()), minlength=len(fields)
        )
        for name, count in zip(fields, per_field, strict=True):
            column = table.column(name)
            free = np.flatnonzero(~used & _eligible(kind, column))
            chosen = np.sort(rng.choice(free, min(int(count), len(free)), replace=False))
            used[chosen] = True
            is_resident = dataset.field(name).type is FieldType.RESIDENT_ID
            for row, value in zip(chosen.tolist(), column.take(chosen).to_pylist(), strict=True):
                written = _mutate(kind, value, is_resident, rng)
                changes[name][row] = written
                cell_truth.append((row, name, kind, value, written))

    conflicts = _pick_free(rng, used, quotas.get(ErrorKind.DUPLICATE_CONFLICT, 0))
    identical = _pick_free(rng, used, quotas.get(ErrorKind.IDENTICAL_DUPLICATE, 0))
    table = _apply(table, changes)
    copies, copy_truth = _duplicates(table, dataset, conflicts, identical, rng)
    return _interleave(table, copies, cell_truth, copy_truth, rng)


def _candidate_fields(dataset: Dataset) -> dict[ErrorKind, list[str]]:
    """The fields each kind of error can go to, key first."""
    key = dataset.field(dataset.key.field)
    others = [f for f in dataset.fields if f.name != key.name]
    identifiers = [key] + [f for f in others if f.type in (FieldType.RESIDENT_ID, FieldType.USCC)]
    residents = [f.name for f in identifiers if f.type is FieldType.RESIDENT_ID]
    candidates: dict[ErrorKind, list[str]] = {k: [] for k in ErrorKind}
    for kind in _IDENTIFIER_KINDS:
        candidates[kind] = [f.name for f in identifiers]
    for kind in _RESIDENT_KINDS:
        candidates[kind] = residents
    candidates[ErrorKind.MISSING_REQUIRED] = [f.name for f in others if f.required]
    candidates[ErrorKind.IMPOSSIBLE_DATE] = [
        f.name for f in dataset.fields if f.type is FieldType.DATE
    ]
    return candidates


def _quotas(total: int, kinds: list[ErrorKind], rng: np.random.Generator) -> dict[ErrorKind, int]:
    """`total` split as evenly as possible; which kinds get one more is drawn at random."""
    if not kinds:
        return {}
    base, extra = divmod(total, len(kinds))
    lucky = set(rng.permutation(len(kinds))[:extra].tolist())
    return {kind: base + (i in lucky) for i, kind in enumerate(kinds)}


def _eligible(kind: ErrorKind, column: pa.ChunkedArray) -> np.ndarray:
    """Rows of `column` that can carry `kind`."""
    present = pc.is_valid(column)
    if kind is ErrorKind.LOWER_CASE_X:
        present = pc.and_(present, pc.ends_with(column, "X"))
    elif kind is ErrorKind.LEGACY_15_DIGIT:
        present = pc.and_(present, pc.starts_with(pc.utf8_slice_codeunits(column, 6, 8), "19"))
    return present.to_numpy(zero_copy_only=False).astype(bool)


def _pick_free(rng: np.random.Generator, used: np.ndarray, count: int) -> np.ndarray:
    free = np.flatnonzero(~used)
    chosen = np.sort(rng.choice(free, min(count, len(free)), replace=False))
    used[chosen] = True
    return chosen


def _mutate(kind: ErrorKind, value: str, resident: bool, rng: np.random.Generator) -> str | None:
    """The value as the error writes it."""
    if kind is ErrorKind.BAD_CHECK_CHARACTER:
        alphabet = "0123456789X" if resident else USCC_ALPHABET
        others = [c for c in alphabet if c != value[-1]]
        return value[:-1] + others[int(rng.integers(len(others)))]
    if kind is ErrorKind.IMPOSSIBLE_BIRTH_DATE:
        body = value[:10] + _impossible_month_day(int(value[6:10]), rng) + value[14:17]
        return body + ric_check_char(body)
    if kind is ErrorKind.FULL_WIDTH_DIGITS:
        return value.translate(_FULL_WIDTH)
    if kind is ErrorKind.LOWER_CASE_X:
        return value[:-1] + "x"
    if kind is ErrorKind.LEGACY_15_DIGIT:
        return value[:6] + value[8:17]
    if kind is ErrorKind.SPACES_IN_IDENTIFIER:
        return _with_spaces(value, int(rng.integers(4)))
    if kind is ErrorKind.MISSING_REQUIRED:
        return None
    if kind is ErrorKind.IMPOSSIBLE_DATE:
        month_day = _impossible_month_day(int(value[:4]), rng)
        return f"{value[:4]}-{month_day[:2]}-{month_day[2:]}"
    raise ValueError(f"{kind} is not a cell error")


def _impossible_month_day(year: int, rng: np.random.Generator) -> str:
    """MMDD that does not exist in `year`: 30 February, 31 April, month 13, ..."""
    choices = ["0230", "0231", "0431", "0631", "0931", "1131", "1301", "1315", "0015"]
    if not calendar.isleap(year):
        choices.append("0229")
    return choices[int(rng.integers(len(choices)))]


def _with_spaces(value: str, variant: int) -> str:
    """Spaces as people and spreadsheets add them: around, or grouping the characters."""
    if variant == 0:
        return f" {value}"
    if variant == 1:
        return f"{value} "
    if variant == 2:
        return f"{value[:6]} {value[6:14]} {value[14:]}"
    return f" {value[:6]} {value[6:]} "


def _apply(table: pa.Table, changes: dict[str, dict[int, str | None]]) -> pa.Table:
    for name, cells in changes.items():
        rows = np.array(sorted(cells))
        mask = np.zeros(table.num_rows, dtype=bool)
        mask[rows] = True
        column = table.column(name).combine_chunks()
        replaced = pc.replace_with_mask(
            column, pa.array(mask), pa.array([cells[r] for r in rows.tolist()], pa.string())
        )
        table = table.set_column(table.schema.get_field_index(name), name, replaced)
    return table


def _duplicates(
    table: pa.Table,
    dataset: Dataset,
    conflicts: np.ndarray,
    identical: np.ndarray,
    rng: np.random.Generator,
) -> tuple[pa.Table, list[tuple[int, int, str, ErrorKind, str | None, str | None]]]:
    """Copies of rows: exact ones, and ones with one non-key field changed.

    Returns the copies and, per copy, (source row, copy number, field, kind, source value, copy
    value). A changed value is taken from another row of the same field, so it is a plausible
    value of the right type and only the conflict is wrong.
    """
    sources = np.concatenate([conflicts, identical]).astype(np.int64)
    copies = table.take(sources)
    key = dataset.key.field
    truth = []
    changes: dict[str, dict[int, str | None]] = defaultdict(dict)
    fields = [f.name for f in dataset.fields if f.name != key]
    for number, source in enumerate(np.concatenate([conflicts, identical]).tolist()):
        conflict = (
            _conflicting_value(table, fields, source, rng) if number < len(conflicts) else None
        )
        if conflict is None:  # an exact copy (or a conflict no other row could supply a value for)
            value = table.column(key)[source].as_py()
            truth.append((source, number, key, ErrorKind.IDENTICAL_DUPLICATE, value, value))
            continue
        name, original, changed = conflict
        changes[name][number] = changed
        truth.append((source, number, name, ErrorKind.DUPLICATE_CONFLICT, original, changed))
    return _apply(copies, changes), truth


def _conflicting_value(
    table: pa.Table, fields: list[str], source: int, rng: np.random.Generator
) -> tuple[str, str | None, str] | None:
    """A field of row `source` and a different value for it, taken from another row (None when
    no row has one, as in a tiny dataset)."""
    for name in rng.permutation(fields).tolist():
        column = table.column(name)
        original = column[source].as_py()
        for donor in rng.integers(0, table.num_rows, 20).tolist():
            value = column[donor].as_py()
            if value is not None and value != original:
                return name, original, value
    return None


def _interleave(
    table: pa.Table,
    copies: pa.Table,
    cell_truth: list[tuple[int, str, ErrorKind, str | None, str | None]],
    copy_truth: list[tuple[int, int, str, ErrorKind, str | None, str | None]],
    rng: np.random.Generator,
) -> Injection:
    """Place each copy after a random row and number the ground truth by the final rows."""
    rows = table.num_rows
    place = np.concatenate(
        [2 * np.arange(rows), 2 * rng.integers(0, max(rows, 1), copies.num_rows) + 1]
    )
    order = np.argsort(place, kind="stable")
    line = np.empty(len(order), dtype=np.int64)
    line[order] = np.arange(1, len(order) + 1)  # 1-based record number of each row
    truth = [
        Truth(int(line[row]), name, kind, old, new) for row, name, kind, old, new in cell_truth
    ]
    for source, number, name, kind, old, new in copy_truth:
        if kind is ErrorKind.DUPLICATE_CONFLICT:
            truth.append(Truth(int(line[source]), name, kind, old, old))
        truth.append(Truth(int(line[rows + number]), name, kind, old, new))
    truth.sort(key=lambda t: (t.row, t.kind))
    combined = pa.concat_tables([table, copies]) if copies.num_rows else table
    return Injection(table=combined.take(pa.array(order)), truth=truth)
