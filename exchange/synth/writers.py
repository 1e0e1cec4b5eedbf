"""Writing a dataset's rows in its declared format and encoding, byte-identically for a seed.

How values are represented, per format:

- **CSV** (UTF-8, UTF-8 with BOM, GBK, GB18030 as declared; UTF-8 when no encoding is declared):
  a header row of each field's first alias (the Chinese column name departments use), every
  value as text, quoted, an empty cell for a missing value. Written by pyarrow in chunks and, for
  the Chinese encodings, transcoded chunk by chunk with Python's codecs (pyarrow only writes
  UTF-8), so memory stays bounded by the chunk.
- **Excel** ``.xlsx`` (openpyxl write-only): the same header; identifiers, dates and text as text
  cells (an 18-digit ID as a number would lose digits), integer and decimal fields as numbers.
- **Parquet** (pyarrow, zstd): field names as columns; integer fields ``int64``, decimal fields
  ``decimal128(18, 2)``, everything else ``string``.
- **JSON lines** (UTF-8): one object per row keyed by field name; integers and decimals as JSON
  numbers, null for a missing value.

Dates are ``YYYY-MM-DD`` text in every format: that is how most departments' exports carry them,
and only text can carry an impossible date such as 2023-02-30 for ingest to catch.

Determinism: pyarrow's CSV and Parquet writers are deterministic; openpyxl stamps the workbook's
properties and zip entries with the current time, so those are rewritten with a fixed time.
"""

from __future__ import annotations

import codecs
import io
import json
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zipfile import ZIP64_LIMIT, ZIP_DEFLATED, ZipFile, ZipInfo

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from openpyxl import Workbook
from openpyxl.xml.functions import tostring

from catalog.schema import Dataset, Encoding, FieldType, FileFormat

CHUNK_ROWS = 65_536
#: The time written into xlsx files (their format requires one).
FIXED_TIME = datetime(2026, 1, 1)
EXCEL_MAX_ROWS = 1_048_575  # one header row + data rows per sheet
EXTENSIONS = {
    FileFormat.CSV: "csv",
    FileFormat.XLSX: "xlsx",
    FileFormat.PARQUET: "parquet",
    FileFormat.JSONL: "jsonl",
}
_ARROW_TYPES = {FieldType.INTEGER: pa.int64(), FieldType.DECIMAL: pa.decimal128(18, 2)}

Progress = Callable[[int], None]


def file_encoding(dataset: Dataset) -> str | None:
    """The character encoding of the dataset's file: as declared, UTF-8 for undeclared text."""
    if dataset.format is FileFormat.CSV:
        return (dataset.encoding or Encoding.UTF8).value
    if dataset.format is FileFormat.JSONL:
        return Encoding.UTF8.value
    return None


def headers(dataset: Dataset) -> list[str]:
    """Column names as the department writes them: first alias for CSV/xlsx, else field name."""
    if dataset.format in (FileFormat.CSV, FileFormat.XLSX):
        return [f.aliases[0] if f.aliases else f.title for f in dataset.fields]
    return [f.name for f in dataset.fields]


def write_dataset(table: pa.Table, dataset: Dataset, path: Path, progress: Progress) -> None:
    """Write `table` (text columns named by field, in declared order) to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = {
        FileFormat.CSV: _write_csv,
        FileFormat.XLSX: _write_xlsx,
        FileFormat.PARQUET: _write_parquet,
        FileFormat.JSONL: _write_jsonl,
    }[dataset.format]
    writer(table, dataset, path, progress)


def _chunks(table: pa.Table) -> Iterator[pa.Table]:
    for start in range(0, max(table.num_rows, 1), CHUNK_ROWS):
        yield table.slice(start, CHUNK_ROWS)


def _write_csv(table: pa.Table, dataset: Dataset, path: Path, progress: Progress) -> None:
    encoding = file_encoding(dataset)
    assert encoding is not None
    encoder = None if encoding == "utf-8" else codecs.getincrementalencoder(encoding)()
    table = table.rename_columns(headers(dataset))
    with path.open("wb") as out:
        for number, chunk in enumerate(_chunks(table)):
            buffer = io.BytesIO()
            pa_csv.write_csv(chunk, buffer, pa_csv.WriteOptions(include_header=number == 0))
            data = buffer.getvalue()
            if encoder is not None:
                try:
                    data = encoder.encode(data.decode("utf-8"))
                except UnicodeEncodeError as exc:
                    bad = exc.object[exc.start : exc.end]
                    raise ValueError(
                        f"{dataset.code}: {bad!r} cannot be written in {encoding}"
                    ) from exc
            out.write(data)
            progress(chunk.num_rows)


def _python_columns(chunk: pa.Table, dataset: Dataset) -> list[list[object]]:
    """Column values for xlsx and JSON: numbers for numeric fields, text otherwise."""
    columns = []
    for declared in dataset.fields:
        values = chunk.column(declared.name).to_pylist()
        if declared.type is FieldType.INTEGER:
            values = [None if v is None else int(v) for v in values]
        elif declared.type is FieldType.DECIMAL:
            values = [None if v is None else Decimal(v) for v in values]
        columns.append(values)
    return columns


def _write_xlsx(table: pa.Table, dataset: Dataset, path: Path, progress: Progress) -> None:
    if table.num_rows > EXCEL_MAX_ROWS:
        raise ValueError(
            f"{dataset.code}: {table.num_rows} rows do not fit in one Excel sheet "
            f"({EXCEL_MAX_ROWS} at most); generate a smaller city"
        )
    workbook = Workbook(write_only=True)
    workbook.properties.creator = "onceonly synth"
    workbook.properties.created = FIXED_TIME
    sheet = workbook.create_sheet(title=dataset.name[:31])
    sheet.append(headers(dataset))
    for chunk in _chunks(table):
        for row in zip(*_python_columns(chunk, dataset), strict=True):
            sheet.append(row)
        progress(chunk.num_rows)
    workbook.save(path)
    workbook.properties.modified = FIXED_TIME
    _freeze_zip(path, {"docProps/core.xml": tostring(workbook.properties.to_tree())})


def _freeze_zip(path: Path, replace: dict[str, bytes]) -> None:
    """Rewrite a zip with fixed entry times (and some entries replaced), streaming each entry."""
    frozen = path.with_suffix(path.suffix + ".tmp")
    with ZipFile(path) as source, ZipFile(frozen, "w", ZIP_DEFLATED, allowZip64=True) as target:
        for entry in source.infolist():
            info = ZipInfo(entry.filename, date_time=FIXED_TIME.timetuple()[:6])
            info.compress_type = ZIP_DEFLATED
            if entry.filename in replace:
                target.writestr(info, replace[entry.filename])
                continue
            large = entry.file_size > ZIP64_LIMIT
            with source.open(entry) as reader, target.open(info, "w", force_zip64=large) as writer:
                shutil.copyfileobj(reader, writer, 1 << 20)
    frozen.replace(path)


def _write_parquet(table: pa.Table, dataset: Dataset, path: Path, progress: Progress) -> None:
    schema = pa.schema(
        [pa.field(f.name, _ARROW_TYPES.get(f.type, pa.string())) for f in dataset.fields]
    )
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for chunk in _chunks(table):
            writer.write_table(chunk.cast(schema), row_group_size=CHUNK_ROWS)
            progress(chunk.num_rows)


def _write_jsonl(table: pa.Table, dataset: Dataset, path: Path, progress: Progress) -> None:
    names = [f.name for f in dataset.fields]
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for chunk in _chunks(table):
            for row in zip(*_python_columns(chunk, dataset), strict=True):
                record = {
                    name: float(value) if isinstance(value, Decimal) else value
                    for name, value in zip(names, row, strict=True)
                }
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            progress(chunk.num_rows)
