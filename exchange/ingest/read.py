"""Open a department's file as batches of text columns named by the catalogue's fields.

The format comes from the file extension (:data:`FORMATS`); each format has its reader in
:mod:`exchange.ingest.readers`. This module is what they have in common: mapping the file's
headers to catalogue fields, and refusing a file whose columns do not fit the dataset.

Headers map to fields through each field's ``name`` and ``aliases``, compared after
normalising both sides (:func:`normalise_header`): Unicode NFKC (full-width letters, digits and
brackets become half-width: ``注册资本（万元）`` is ``注册资本(万元)``), surrounding whitespace,
byte-order marks and zero-width characters removed, ASCII letters lower-cased. Then:

* a required field without a column: refused ``missing_columns``, naming them;
* a column that maps to no field: refused ``unknown_columns``, naming them, unless the dataset
  sets ``ignore_unknown_columns``; two columns mapping to the same field are refused the same
  way; a column with an empty header is ignored (spreadsheets carry unused formatted columns,
  CSV exports a trailing delimiter);
* an optional field without a column: all null;
* a delta batch needs an operation column (:data:`OPERATION_HEADERS`), else it is refused
  ``bad_operation_column``; in a full batch such a column is an unknown column. Delta batches
  need the same columns as full ones (a delete row may leave all but the key empty).

For JSON lines the "columns" are the objects' keys, which may differ from line to line: a key
absent from a line is a null value, and a key unknown to the catalogue refuses the batch when it
first appears.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import ascii_lowercase, ascii_uppercase
from types import TracebackType
from typing import Literal

import pyarrow as pa

from catalog.schema import Dataset, FileFormat
from exchange.ingest.errors import BatchRefused, RefusalReason
from exchange.ingest.readers import UNREADABLE_SCHEMA, Opened
from exchange.ingest.readers.delimited import open_delimited
from exchange.ingest.readers.encoding import canonical_encoding
from exchange.ingest.readers.excel import open_excel
from exchange.ingest.readers.json_lines import open_json_lines
from exchange.ingest.readers.parquet import open_parquet

__all__ = [
    "FORMATS",
    "OPERATION",
    "OPERATION_HEADERS",
    "Mode",
    "RawBatch",
    "Source",
    "file_format",
    "normalise_header",
    "open_source",
]

Mode = Literal["full", "delta"]

FORMATS: dict[str, FileFormat] = {
    ".csv": FileFormat.CSV,
    ".txt": FileFormat.CSV,
    ".xlsx": FileFormat.XLSX,
    ".parquet": FileFormat.PARQUET,
    ".jsonl": FileFormat.JSONL,
    ".ndjson": FileFormat.JSONL,
}
#: The column a delta batch's operation is in, once read.
OPERATION = "_op"
#: Headers of the operation column (compared normalised).
OPERATION_HEADERS = ("_op", "op", "operation", "操作类型", "操作")

_INVISIBLE = "\ufeff\u200b\u200c\u200d\u2060"
_LOWER_ASCII = str.maketrans(ascii_uppercase, ascii_lowercase)


def normalise_header(header: str) -> str:
    """A header as it is compared: NFKC, trimmed (also of BOMs and zero-width characters),
    ASCII letters in lower case.

    >>> normalise_header("\\ufeff 身份证号\\u3000"), normalise_header("ＩＤ_Number")
    ('身份证号', 'id_number')
    """
    text = unicodedata.normalize("NFKC", header)
    return text.strip().strip(_INVISIBLE).strip().translate(_LOWER_ASCII)


def file_format(path: Path) -> FileFormat:
    """The format of a file by its extension, or refused ``unsupported_format``."""
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        supported = ", ".join(FORMATS)
        raise BatchRefused(
            RefusalReason.UNSUPPORTED_FORMAT,
            f"{path.name}: files ending {path.suffix or '(no extension)'!r} are not read; "
            f"send one of {supported}",
        )
    return found


@dataclass(frozen=True)
class RawBatch:
    """A slice of the file as text: one string column per catalogue field in catalogue order
    (null where empty or absent), plus :data:`OPERATION` in a delta batch."""

    rows: pa.Array  # int64: 1-based source record numbers
    values: pa.Table
    unreadable: pa.Table = field(default_factory=UNREADABLE_SCHEMA.empty_table)


class _Columns:
    """Header -> field (or :data:`OPERATION`) for one dataset and mode, checked as headers come."""

    def __init__(self, dataset: Dataset, mode: Mode) -> None:
        self.dataset = dataset
        self.mode = mode
        self.aliases: dict[str, str] = {}
        for entry in dataset.fields:
            for name in (entry.name, *entry.aliases):
                self.aliases.setdefault(normalise_header(name), entry.name)
        if mode == "delta":
            for name in OPERATION_HEADERS:
                self.aliases.setdefault(normalise_header(name), OPERATION)
        self.used: dict[str, str] = {}  # header -> field, as first seen
        self.ignored: list[str] = []

    def targets(self, headers: Sequence[str]) -> list[str | None]:
        """The field of each header (None: ignored); refuses unknown and repeated columns."""
        targets = [self.aliases.get(normalise_header(h)) if h.strip() else None for h in headers]
        unknown = [h for h, t in zip(headers, targets, strict=True) if t is None and h.strip()]
        if unknown and not self.dataset.ignore_unknown_columns:
            raise BatchRefused(RefusalReason.UNKNOWN_COLUMNS, self._unknown_message(unknown))
        self.ignored.extend(h for h in unknown if h not in self.ignored)
        seen: dict[str, str] = {}
        for header, target in zip(headers, targets, strict=True):
            if target is None:
                continue
            if target in seen:
                raise BatchRefused(
                    RefusalReason.UNKNOWN_COLUMNS,
                    f"the columns {seen[target]!r} and {header!r} both name "
                    f"{self._describe(target)}; keep one",
                )
            seen[target] = header
            self.used.setdefault(header, target)
        return targets

    def check_complete(self, headers: Sequence[str]) -> None:
        """Refuse a file without a column for each required field (and, in delta, the
        operation)."""
        present = set(self.targets(headers))
        missing = [f for f in self.dataset.fields if f.required and f.name not in present]
        if missing:
            names = ", ".join(f"{f.title} ({f.name})" for f in missing)
            raise BatchRefused(
                RefusalReason.MISSING_COLUMNS,
                f"{self._dataset()}: required column(s) missing: {names}; "
                f"the file's columns are {_listing(headers)}",
            )
        if self.mode == "delta" and OPERATION not in present:
            raise BatchRefused(
                RefusalReason.BAD_OPERATION_COLUMN,
                f"{self._dataset()}: a delta batch needs an operation column named one of "
                f"{', '.join(OPERATION_HEADERS)} (values upsert or delete); "
                f"the file's columns are {_listing(headers)}",
            )

    def _unknown_message(self, unknown: list[str]) -> str:
        hint = (
            " (an operation column belongs to a delta batch)"
            if any(normalise_header(h) in map(normalise_header, OPERATION_HEADERS) for h in unknown)
            else ""
        )
        return (
            f"{self._dataset()}: column(s) {_listing(unknown)} are not fields of the dataset"
            f"{hint}; add them to the catalogue as aliases, or set ignore_unknown_columns"
        )

    def _dataset(self) -> str:
        return f"{self.dataset.code} ({self.dataset.name})"

    def _describe(self, target: str) -> str:
        if target == OPERATION:
            return "the operation"
        entry = self.dataset.field(target)
        return f"{entry.title} ({entry.name})"


def _listing(headers: Sequence[str]) -> str:
    return ", ".join(repr(h) for h in headers) or "(none)"


class Source:
    """An open file, as batches of :class:`RawBatch`. Close it (or use it as a context manager)
    to release the file early; it closes itself once its batches are exhausted."""

    def __init__(
        self, opened: Opened, columns: _Columns, file_format: FileFormat, mode: Mode
    ) -> None:
        self._opened = opened
        self._columns = columns
        self.format = file_format
        self.encoding = opened.encoding
        self.mode = mode
        names = [f.name for f in columns.dataset.fields]
        self._names = [*names, OPERATION] if mode == "delta" else names

    @property
    def columns(self) -> dict[str, str]:
        """Header -> catalogue field (or ``_op``) for every column used so far."""
        return dict(self._columns.used)

    @property
    def ignored(self) -> tuple[str, ...]:
        """Headers of columns ignored so far (unknown, with ``ignore_unknown_columns``)."""
        return tuple(self._columns.ignored)

    def batches(self) -> Iterator[RawBatch]:
        for batch in self._opened.batches:
            targets = self._columns.targets(batch.table.column_names)
            by_field = {t: batch.table.column(i) for i, t in enumerate(targets) if t is not None}
            size = batch.table.num_rows
            values = [by_field.get(name, pa.nulls(size, pa.string())) for name in self._names]
            table = pa.Table.from_arrays(values, names=self._names)
            yield RawBatch(rows=batch.rows, values=table, unreadable=batch.unreadable)

    def close(self) -> None:
        self._opened.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def open_source(
    path: Path,
    dataset: Dataset,
    *,
    mode: Mode = "full",
    encoding: str | None = None,
    batch_rows: int = 200_000,
) -> Source:
    """Open ``path`` as a file of ``dataset``; refuse it if its format, encoding or columns are
    wrong.

    ``encoding`` (CSV only) overrides the dataset's declared encoding; with neither, the
    encoding is detected. JSON lines are always UTF-8; Excel and Parquet carry their own.
    """
    if mode not in ("full", "delta"):
        raise ValueError(f"mode must be 'full' or 'delta', not {mode!r}")
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be positive, not {batch_rows}")
    found = file_format(path)
    if not path.is_file():
        raise FileNotFoundError(path)
    if found is FileFormat.CSV:
        declared = encoding or (dataset.encoding.value if dataset.encoding else None)
        chosen = canonical_encoding(declared) if declared else None
        opened = open_delimited(path, encoding=chosen, batch_rows=batch_rows)
    elif found is FileFormat.XLSX:
        opened = open_excel(path, batch_rows=batch_rows)
    elif found is FileFormat.PARQUET:
        opened = open_parquet(path, batch_rows=batch_rows)
    else:
        opened = open_json_lines(path, batch_rows=batch_rows)
    columns = _Columns(dataset, mode)
    try:
        columns.check_complete(opened.headers)
    except BaseException:
        opened.close()
        raise
    return Source(opened, columns, found, mode)
