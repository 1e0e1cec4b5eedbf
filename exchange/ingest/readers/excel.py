"""Excel ``.xlsx`` workbooks through openpyxl in read-only mode (rows streamed from the sheet XML).

The first sheet is read; its first non-empty row is the header. Cells come back as the Python
values openpyxl decodes (numbers, datetimes, booleans, text) and are turned back into the text
the department typed (:func:`~exchange.ingest.readers.python_text`): a date cell is
``YYYY-MM-DD``, ``12.0`` is ``12``. Formulas are read as their cached values.

Row numbers are the data rows under the header as Excel shows them (Excel's row number minus the
header's), so a quarantine entry for row 7 is on the sheet's row ``header + 7``; fully empty
rows are not records and are skipped, but they keep their numbers. Columns with an empty header
are ignored (a spreadsheet often carries formatted but unused columns), as are cells beyond the
header.

An 18-digit ID typed as a *number* in Excel has already lost its last digits in the file (Excel
keeps 15 significant digits); ingest cannot recover it and the row fails its check.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from exchange.ingest.errors import BatchRefused, RefusalReason
from exchange.ingest.readers import Opened, SourceBatch, python_text

__all__ = ["open_excel"]


def open_excel(path: Path, *, batch_rows: int) -> Opened:
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise BatchRefused(
            RefusalReason.UNREADABLE, f"the file is not a readable .xlsx workbook: {exc}"
        ) from exc
    try:
        if not workbook.worksheets:
            raise BatchRefused(RefusalReason.EMPTY_FILE, "the workbook has no sheet")
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        for values in rows:
            if any(_present(value) for value in values):
                break
        else:
            raise BatchRefused(RefusalReason.EMPTY_FILE, "the first sheet is empty")
    except BaseException:
        workbook.close()
        raise
    headers = [python_text(value) or "" for value in values]
    while headers and not headers[-1].strip():
        headers.pop()
    batches = _batches(workbook, rows, headers, batch_rows)
    return Opened(headers=tuple(headers), encoding=None, batches=batches)


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _batches(
    workbook: object,
    rows: Iterator[tuple[object, ...]],
    headers: list[str],
    batch_rows: int,
) -> Iterator[SourceBatch]:
    width = len(headers)
    try:
        columns: list[list[str | None]] = [[] for _ in range(width)]
        numbers: list[int] = []
        for number, values in enumerate(rows, start=1):
            cells = values[:width]
            if not any(_present(value) for value in cells):
                continue
            numbers.append(number)
            for column, value in zip(columns, cells, strict=False):
                column.append(python_text(value))
            for column in columns[len(cells) :]:
                column.append(None)
            if len(numbers) == batch_rows:
                yield _batch(headers, columns, numbers)
                columns, numbers = [[] for _ in range(width)], []
        if numbers:
            yield _batch(headers, columns, numbers)
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise BatchRefused(RefusalReason.UNREADABLE, f"the workbook cannot be read: {exc}") from exc
    finally:
        workbook.close()  # type: ignore[attr-defined]


def _batch(names: list[str], columns: list[list[str | None]], numbers: list[int]) -> SourceBatch:
    arrays = [pa.array(column, pa.string()) for column in columns]
    table = pa.Table.from_arrays(arrays, names=names)
    return SourceBatch(table, pa.array(numbers, pa.int64()))
