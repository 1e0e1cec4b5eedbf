"""CSV (and ``.txt``) files through pyarrow's streaming reader, in any supported encoding.

pyarrow's ``open_csv`` parses block by block (bounded memory) and transcodes GBK and GB18030 to
UTF-8 through Python's codecs as it reads, raising ``UnicodeDecodeError`` on undecodable input;
for UTF-8 its string conversion rejects invalid bytes. Either way the refusal names the byte
offset and line, found by :func:`~exchange.ingest.readers.encoding.first_undecodable`.

Every column is read as a string (never inferred: ``00123`` stays ``00123``, ``NA`` stays
``NA``) and quoted values may span lines (addresses typed with Alt+Enter in Excel).

The delimiter is the one of ``,``, tab, ``;`` and ``|`` that occurs most often in the header
line (Chinese systems export ".csv" files with tabs often enough).

Records with the wrong number of fields are not a reason to refuse a five-million-row file:
pyarrow's ``invalid_row_handler`` skips them, and they are set aside as ``unreadable_row``. The
handler does not say *where* the record was, and the records after it must keep their true
numbers, so the first time one is skipped the file is scanned once with Python's :mod:`csv`
module (same quoting rules) to find the record numbers of all such rows; the accepted rows are
then numbered around them. A file without such rows is never scanned twice.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from exchange.ingest.errors import BatchRefused, RefusalReason
from exchange.ingest.readers import Opened, SourceBatch, rebatch, unreadable_table
from exchange.ingest.readers.encoding import (
    UTF8_BOM,
    detect_encoding,
    first_undecodable,
    refuse_undecodable,
)

__all__ = ["open_delimited"]

DELIMITERS = (",", "\t", ";", "|")
#: Bytes read to find the header record.
HEAD_BYTES = 1 << 16
#: pyarrow block size per row of ``batch_rows``, and its bounds. The reader keeps some twenty
#: blocks in flight (measured: 740 MB of Arrow memory with 32 MB blocks, 150 MB with 4 MB ones,
#: whatever the file's size), so blocks stay small and are joined into batches afterwards.
BYTES_PER_ROW = 128
MIN_BLOCK = 1 << 16
MAX_BLOCK = 4 << 20
#: Unreadable rows whose text is kept for the quarantine (the rest are numbered only).
KEEP_TEXTS = 10_000


def open_delimited(path: Path, *, encoding: str | None, batch_rows: int) -> Opened:
    """Open a delimited text file; ``encoding`` None means detect it."""
    used = encoding or detect_encoding(path)
    if used in ("utf-8", "utf-8-sig"):
        with path.open("rb") as handle:
            used = "utf-8-sig" if handle.read(len(UTF8_BOM)) == UTF8_BOM else "utf-8"
    header, delimiter = _header(path, used)
    skipped = _Skipped()
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(
                encoding="utf8" if used.startswith("utf-8") else used,
                block_size=min(MAX_BLOCK, max(MIN_BLOCK, batch_rows * BYTES_PER_ROW)),
            ),
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=skipped
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise _failure(path, used, exc) from exc
    batches = _batches(path, used, delimiter, reader, skipped, len(header), batch_rows)
    return Opened(headers=tuple(reader.schema.names), encoding=used, batches=batches)


def _header(path: Path, encoding: str) -> tuple[list[str], str]:
    """The header record and the delimiter, from the start of the file."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    if not head.strip():
        raise BatchRefused(RefusalReason.EMPTY_FILE, "the file is empty: no header and no rows")
    text = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        decoded = text.decode(head, final=len(head) < HEAD_BYTES)
    except UnicodeDecodeError as exc:
        raise _failure(path, encoding, exc) from exc
    decoded = decoded.lstrip("\ufeff")
    first_line = decoded.splitlines()[0] if decoded.strip() else ""
    delimiter = max(DELIMITERS, key=first_line.count)
    if not first_line.count(delimiter):
        delimiter = ","
    try:
        records = csv.reader(io.StringIO(decoded, newline=""), delimiter=delimiter)
        header = next((record for record in records if record), [])
    except csv.Error as exc:
        raise BatchRefused(RefusalReason.UNREADABLE, f"the header cannot be read: {exc}") from exc
    return header, delimiter


def _failure(path: Path, encoding: str, exc: Exception) -> BatchRefused:
    """The refusal for a reading error: ``bad_encoding`` where the bytes do not decode,
    ``empty_file`` for a file without content, otherwise ``unreadable``."""
    undecodable = first_undecodable(path, encoding)
    if undecodable is not None:
        return refuse_undecodable(path, encoding, undecodable)
    if "Empty CSV file" in str(exc):
        return BatchRefused(RefusalReason.EMPTY_FILE, "the file is empty: no header and no rows")
    return BatchRefused(RefusalReason.UNREADABLE, f"the file cannot be read as CSV: {exc}")


class _Skipped:
    """pyarrow's invalid-row handler: counts the rows it skips (called from reader threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def __call__(self, row: pa_csv.InvalidRow) -> str:
        with self._lock:
            self.count += 1
        return "skip"


class _Numbering:
    """Record numbers of the accepted rows, around the records that were skipped."""

    def __init__(self) -> None:
        self.emitted = 0
        self.skipped_before: np.ndarray | None = None  # per skipped record: good records before

    def next(self, count: int) -> pa.Array:
        emitted = np.arange(self.emitted, self.emitted + count, dtype=np.int64)
        self.emitted += count
        numbers = emitted + 1
        if self.skipped_before is not None:
            numbers += np.searchsorted(self.skipped_before, emitted, side="right")
        return pa.array(numbers, pa.int64())

    def skip(self, positions: np.ndarray) -> None:
        """Number around the skipped records at ``positions`` (sorted record numbers)."""
        self.skipped_before = positions - 1 - np.arange(len(positions))


def _batches(
    path: Path,
    encoding: str,
    delimiter: str,
    reader: pa_csv.CSVStreamingReader,
    skipped: _Skipped,
    width: int,
    batch_rows: int,
) -> Iterator[SourceBatch]:
    numbering = _Numbering()
    unreadable: pa.Table | None = None  # located skipped records not handed out yet
    try:
        for table in rebatch(_read(path, encoding, reader), reader.schema, batch_rows):
            # A skipped record is reported while its block is parsed, so before any row after
            # it is handed out: locating them now numbers every row correctly.
            if skipped.count and numbering.skipped_before is None:
                unreadable = _locate_skipped(path, encoding, delimiter, width, numbering)
            yield _source_batch(table, numbering.next(table.num_rows), unreadable)
            unreadable = None
        if skipped.count and numbering.skipped_before is None:
            unreadable = _locate_skipped(path, encoding, delimiter, width, numbering)
        if unreadable is not None:
            yield _source_batch(reader.schema.empty_table(), pa.array([], pa.int64()), unreadable)
        located = 0 if numbering.skipped_before is None else len(numbering.skipped_before)
        if skipped.count != located:
            raise BatchRefused(
                RefusalReason.UNREADABLE,
                f"{skipped.count:,} records have the wrong number of fields, but "
                f"{located:,} were found when the file was scanned again; check its quoting",
            )
    finally:
        reader.close()


def _read(path: Path, encoding: str, reader: pa_csv.CSVStreamingReader) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            yield reader.read_next_batch()
        except StopIteration:
            return
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise _failure(path, encoding, exc) from exc


def _source_batch(table: pa.Table, rows: pa.Array, unreadable: pa.Table | None) -> SourceBatch:
    if unreadable is None:
        return SourceBatch(table, rows)
    return SourceBatch(table, rows, unreadable)


def _locate_skipped(
    path: Path, encoding: str, delimiter: str, width: int, numbering: _Numbering
) -> pa.Table:
    """Find the records that do not have ``width`` fields, number around them, and return their
    quarantine rows (text kept for the first :data:`KEEP_TEXTS`)."""
    positions: list[int] = []
    messages: list[str] = []
    texts: list[str | None] = []
    message = functools.cache(
        lambda fields: f"the record has {fields} fields where the header has {width}"
    )
    with path.open(encoding=encoding, newline="") as handle:
        records = (record for record in csv.reader(handle, delimiter=delimiter) if record)
        try:
            next(records, None)  # the header
            for number, record in enumerate(records, start=1):
                if len(record) != width:
                    positions.append(number)
                    messages.append(message(len(record)))
                    keep = len(positions) <= KEEP_TEXTS
                    texts.append(delimiter.join(record) if keep else None)
        except csv.Error as exc:
            raise BatchRefused(
                RefusalReason.UNREADABLE, f"the file cannot be read as CSV: {exc}"
            ) from exc
    numbering.skip(np.array(positions, dtype=np.int64))
    return unreadable_table(positions, messages, texts)
