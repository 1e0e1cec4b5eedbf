"""JSON lines (``.jsonl``, ``.ndjson``): one JSON object per line, UTF-8, read in bounded chunks.

The file is read in blocks cut at line ends, and its non-empty lines are parsed
``batch_rows`` at a time. Row numbers count the non-empty lines (a blank line is not a record),
like the records of a CSV file. Keys are the headers; a key missing from a line is a null value.

Parsing takes two paths that give the same text:

* **fast**: ``pyarrow.json`` parses the whole chunk in C++. Its type inference is kept in check:
  a column it read as a timestamp is parsed again as a string (``"2012-12-12"`` must reach
  validation as the department wrote it, not as a midnight timestamp), numbers become their text
  (:func:`~exchange.ingest.readers.arrow_text`).
* **exact**: Python's :mod:`json`, line by line, numbers kept as their literal text. Taken for a
  chunk the fast path cannot represent faithfully: a line that is not valid JSON or not an object
  (that line alone is set aside as ``unreadable_row``, with its number), a key whose values
  change type, a nested value, or a float whose shortest form has 16 or more significant digits
  (a double cannot be trusted to hold what was written).

A line that is not UTF-8 refuses the batch (``bad_encoding``, with its byte offset and line).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from exchange.ingest.errors import BatchRefused, RefusalReason
from exchange.ingest.readers import (
    Opened,
    SourceBatch,
    arrow_text,
    python_text,
    unreadable_table,
)
from exchange.ingest.readers.encoding import UTF8_BOM, first_undecodable, refuse_undecodable

__all__ = ["open_json_lines"]

BLOCK = 8 << 20
#: Significant digits from which a double may not hold the number that was written.
DOUBLE_DIGITS = 16


def open_json_lines(path: Path, *, batch_rows: int) -> Opened:
    """Open a JSON lines file; its headers are the keys of the first chunk's objects."""
    batches = _batches(path, batch_rows)
    try:
        first = next(batches)
    except StopIteration:
        raise BatchRefused(RefusalReason.EMPTY_FILE, "the file has no JSON lines") from None
    return Opened(
        headers=tuple(first.table.column_names), encoding="utf-8", batches=_chain(first, batches)
    )


def _chain(first: SourceBatch, rest: Iterator[SourceBatch]) -> Iterator[SourceBatch]:
    try:
        yield first
        yield from rest
    finally:
        rest.close()  # type: ignore[attr-defined]


def _batches(path: Path, batch_rows: int) -> Iterator[SourceBatch]:
    parser = _Parser(path)
    done = 0
    for lines in _line_groups(path, batch_rows):
        batch = parser.parse(lines, first_row=done + 1)
        done += len(lines)
        yield batch


def _line_groups(path: Path, batch_rows: int) -> Iterator[list[bytes]]:
    """The file's non-empty lines, ``batch_rows`` at a time, read in blocks of :data:`BLOCK`."""
    group: list[bytes] = []
    rest = b""
    with path.open("rb") as handle:
        start = handle.read(len(UTF8_BOM))
        rest = b"" if start == UTF8_BOM else start
        while True:
            block = handle.read(BLOCK)
            data = rest + block
            if block:
                cut = data.rfind(b"\n") + 1
                data, rest = data[:cut], data[cut:]
            group.extend(line for line in data.split(b"\n") if line.strip())
            while len(group) >= batch_rows:
                yield group[:batch_rows]
                group = group[batch_rows:]
            if not block:
                break
    if group:
        yield group


class _Parser:
    """Parses chunks of lines, remembering which keys must be read as strings."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.strings: dict[str, pa.DataType] = {}  # keys pyarrow would read as timestamps

    def parse(self, lines: list[bytes], *, first_row: int) -> SourceBatch:
        table = self._fast(lines)
        if table is None:
            return self._exact(lines, first_row)
        rows = np.arange(first_row, first_row + len(lines), dtype=np.int64)
        columns = [arrow_text(column) for column in table.columns]
        text = pa.Table.from_arrays(columns, names=table.column_names)
        return SourceBatch(text, pa.array(rows))

    def _fast(self, lines: list[bytes]) -> pa.Table | None:
        """The chunk through pyarrow.json, or None when it needs the exact path."""
        data = b"\n".join(lines)
        try:
            data.decode("utf-8")  # pyarrow.json does not check that strings are UTF-8
        except UnicodeDecodeError:
            return None
        for _attempt in range(2):
            options = pa_json.ParseOptions(
                explicit_schema=pa.schema(self.strings) if self.strings else None
            )
            try:
                table = pa_json.read_json(
                    io.BytesIO(data),
                    read_options=pa_json.ReadOptions(use_threads=False, block_size=len(data) + 1),
                    parse_options=options,
                )
            except pa.ArrowInvalid:
                return None
            dated = [f.name for f in table.schema if pa.types.is_timestamp(f.type)]
            if not dated:
                break
            self.strings.update((name, pa.string()) for name in dated)
        else:  # pragma: no cover - the second parse reads those keys as strings
            return None
        if table.num_rows != len(lines) or not all(map(_faithful, table.columns)):
            return None
        return table

    def _exact(self, lines: list[bytes], first_row: int) -> SourceBatch:
        records: list[dict[str, object]] = []
        rows: list[int] = []
        bad_rows: list[int] = []
        messages: list[str] = []
        texts: list[str | None] = []
        for row, line in enumerate(lines, start=first_row):
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                failure = first_undecodable(self.path, "utf-8")
                assert failure is not None
                raise refuse_undecodable(self.path, "utf-8", failure) from None
            try:
                record = json.loads(text, parse_float=str, parse_int=str, parse_constant=str)
            except json.JSONDecodeError as exc:
                bad_rows.append(row)
                messages.append(f"the line is not valid JSON: {exc.msg} at column {exc.colno}")
                texts.append(text)
                continue
            if not isinstance(record, dict):
                bad_rows.append(row)
                messages.append(f"the line is a JSON {type(record).__name__}, not an object")
                texts.append(text)
                continue
            records.append(record)
            rows.append(row)
        keys = list(dict.fromkeys(key for record in records for key in record))
        columns = [
            pa.array([python_text(r.get(key)) for r in records], pa.string()) for key in keys
        ]
        table = pa.Table.from_arrays(columns, names=keys)
        unreadable = unreadable_table(bad_rows, messages, texts)
        return SourceBatch(table, pa.array(rows, pa.int64()), unreadable)


def _faithful(column: pa.ChunkedArray) -> bool:
    """Whether the fast path's column holds what was written: no nested values, and no double
    whose shortest form has :data:`DOUBLE_DIGITS` or more significant digits."""
    if pa.types.is_nested(column.type):
        return False
    if not pa.types.is_floating(column.type):
        return True
    text = pc.cast(column, pa.string())
    digits = pc.replace_substring_regex(pc.replace_substring_regex(text, "[^0-9]", ""), "^0+", "")
    long = pc.greater_equal(pc.utf8_length(digits), DOUBLE_DIGITS)
    exponent = pc.match_substring(text, "e")
    return not pc.any(pc.or_(long, exponent)).as_py()
