"""Stage one department file: the accepted rows in a staging Parquet file, the rest in the
quarantine, or the whole batch refused.

:func:`stage_file` is the whole of the "stage" step of ingest (issue 3):

1. open the file (:func:`~exchange.ingest.read.open_source`: format, encoding, columns; the
   whole-file refusals come from here);
2. stream it batch by batch through :func:`~exchange.ingest.validate.validate_batch`, writing
   accepted rows with their ``_hash`` (:func:`~exchange.ingest.duplicates.content_hash`) to a
   temporary, uncompressed Parquet file and quarantine entries to a temporary quarantine file;
   hashing and writing one batch run in a worker thread while the next is read and validated,
   so memory holds at most two batches;
3. resolve duplicate keys over the temporary file (:mod:`~exchange.ingest.duplicates`);
4. sort the quarantine into its final Parquet and CSV files;
5. refuse the batch if the share of rows set aside is above the dataset's
   ``max_quarantine_rate``, else write the final staged file (compressed, without the rows the
   duplicates removed) and move the files into ``out_dir``.

In a full batch, rows the dataset's previous full batch already staged word for word are
*known* (:mod:`~exchange.ingest.known`): given ``known_rows`` (that batch's row map) and
``base_snapshot`` (the snapshot it made), they are looked up instead of validated, and staged
with their key and hash only (``_known`` true, values null: they are the base snapshot's, whose
path the staged file's metadata names). Every full batch leaves its own row map,
:data:`~exchange.ingest.known.ROW_MAP`, for the next one.

Every row read is accounted for: ``rows_read`` = accepted + set aside (distinct rows with a
quarantine entry) + identical copies collapsed.

Files in ``out_dir`` (:data:`STAGED`, :data:`QUARANTINE_PARQUET`, :data:`QUARANTINE_CSV`) appear
only at the end, each renamed from a temporary directory inside ``out_dir`` (same file system,
so the rename is atomic); the temporary directory is removed whatever happens. A refused batch
leaves nothing behind, except after ``too_many_bad_rows``: then the quarantine files are moved
into ``out_dir`` and named on the :class:`~exchange.ingest.errors.BatchRefused`, because they
are what the department needs to correct its file. Files from an earlier run in ``out_dir`` are
replaced by a successful run and otherwise left alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from catalog.schema import Dataset, FieldType
from exchange import duck
from exchange.ingest.duplicates import Resolution, content_hash, resolve
from exchange.ingest.errors import BatchRefused, RefusalReason
from exchange.ingest.known import (
    KNOWN,
    RAW_HI,
    RAW_LO,
    ROW_MAP,
    KnownRows,
    fingerprint,
    map_schema,
    raw_hashes,
)
from exchange.ingest.quarantine import (
    QuarantineSummary,
    QuarantineWriter,
    finish,
    unreadable_entries,
)
from exchange.ingest.read import OPERATION, RawBatch, open_source
from exchange.ingest.readers.parquet import record_batches
from exchange.ingest.snapshots import BASE_SNAPSHOT
from exchange.ingest.validate import HASH, ROW, SUBJECT_KEY, Plan, Validated, validate_batch

__all__ = [
    "QUARANTINE_CSV",
    "QUARANTINE_PARQUET",
    "STAGED",
    "StagedBatch",
    "stage_file",
]

STAGED = "staged.parquet"
QUARANTINE_PARQUET = "quarantine.parquet"
QUARANTINE_CSV = "quarantine.csv"
#: The staged file is read once, by the apply step: writing it fast matters more than its size.
STAGED_COMPRESSION = "snappy"
#: DuckDB's memory while resolving duplicates and sorting the quarantine (it spills beyond).
DUCKDB_MEMORY = "512MB"


@dataclass(frozen=True)
class StagedBatch:
    """What staging produced. ``rows_read`` = ``rows_accepted`` + ``rows_quarantined`` +
    ``duplicates_collapsed``; ``reasons`` counts quarantine entries (a row with two bad fields
    counts under both reasons); ``columns`` maps each header used to its catalogue field (or
    ``_op``), ``ignored_columns`` lists the unknown columns left out."""

    staged_path: Path
    quarantine_parquet: Path
    quarantine_csv: Path
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    duplicates_collapsed: int
    reasons: dict[str, int]
    encoding: str | None
    format: str
    columns: dict[str, str]
    ignored_columns: tuple[str, ...] = field(default=())
    rows_known: int = 0  # accepted rows looked up in the previous batch's row map


def stage_file(
    path: Path,
    dataset: Dataset,
    *,
    out_dir: Path,
    mode: Literal["full", "delta"] = "full",
    encoding: str | None = None,
    today: date | None = None,
    batch_rows: int = 200_000,
    known_rows: Path | None = None,
    base_snapshot: Path | None = None,
) -> StagedBatch:
    """Validate ``path`` as a file of ``dataset`` and stage it into ``out_dir``.

    ``encoding`` overrides the dataset's declared CSV encoding; ``today`` bounds resident birth
    dates (default: the local date). ``known_rows`` and ``base_snapshot``: the row map of the
    batch that made the dataset's current version, and its snapshot (both or neither; used in
    full mode only). Raises :class:`~exchange.ingest.errors.BatchRefused` when the batch is
    refused whole.
    """
    path, out_dir = Path(path), Path(out_dir)
    if (known_rows is None) != (base_snapshot is None):
        raise ValueError("known_rows and base_snapshot go together")
    plan = Plan(dataset, mode, today or date.today())
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    try:
        # DuckDB's memory is given back (the connection closed) before the final write.
        with duck.connect(work / "duckdb", memory_limit=DUCKDB_MEMORY) as connection:
            checked = _check_file(path, plan, work, encoding, batch_rows, connection, known_rows)
        rate = checked.summary.rows / checked.rows_read
        if rate > dataset.max_quarantine_rate:
            quarantine_parquet = _move(work / QUARANTINE_PARQUET, out_dir)
            quarantine_csv = _move(work / QUARANTINE_CSV, out_dir)
            raise BatchRefused(
                RefusalReason.TOO_MANY_BAD_ROWS,
                f"{dataset.code} ({dataset.name}): {checked.summary.rows:,} of "
                f"{checked.rows_read:,} rows ({_percent(rate)}) set aside, above the dataset's "
                f"limit of {_percent(dataset.max_quarantine_rate)}; see {quarantine_csv.name}",
                quarantine_parquet=quarantine_parquet,
                quarantine_csv=quarantine_csv,
            )
        base = base_snapshot if checked.known else None
        _write_staged(checked, work, plan, batch_rows, base)
        staged_path = _move(work / STAGED, out_dir)
        if plan.mode == "full":
            _move(work / ROW_MAP, out_dir)
        return StagedBatch(
            staged_path=staged_path,
            quarantine_parquet=_move(work / QUARANTINE_PARQUET, out_dir),
            quarantine_csv=_move(work / QUARANTINE_CSV, out_dir),
            rows_read=checked.rows_read,
            rows_accepted=pq.read_metadata(staged_path).num_rows,
            rows_quarantined=checked.summary.rows,
            duplicates_collapsed=checked.resolution.collapsed,
            reasons=checked.summary.reasons,
            encoding=checked.encoding,
            format=checked.format,
            columns=checked.columns,
            ignored_columns=checked.ignored,
            rows_known=checked.known,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


@dataclass(frozen=True)
class _FileCheck:
    """What checking the whole file found (the files themselves are in the work directory)."""

    validated: Path  # accepted rows with their hash, duplicates not yet removed
    rows_read: int
    resolution: Resolution
    summary: QuarantineSummary
    encoding: str | None
    format: str
    columns: dict[str, str]
    ignored: tuple[str, ...]
    fingerprint: str
    today: date
    known: int  # known rows written to the validated file (duplicates not yet removed)


def _check_file(
    path: Path,
    plan: Plan,
    work: Path,
    encoding: str | None,
    batch_rows: int,
    connection: duckdb.DuckDBPyConnection,
    known_rows: Path | None,
) -> _FileCheck:
    """Read, validate and hash every row (or look it up), resolve duplicates, and write the
    quarantine."""
    names = [f.name for f in plan.dataset.fields]
    validated, pending_path = work / "validated.parquet", work / "pending.parquet"
    schema = _validated_schema(plan)
    rows_read = known_count = 0
    with (
        open_source(
            path, plan.dataset, mode=plan.mode, encoding=encoding, batch_rows=batch_rows
        ) as source,
        pq.ParquetWriter(validated, schema, compression="none", use_dictionary=False) as out,
        QuarantineWriter(pending_path) as pending,
        _Background() as background,
    ):
        printed = fingerprint(
            plan.dataset, plan.mode, source.format.value, source.encoding, source.columns
        )
        known = None
        if known_rows is not None and plan.mode == "full":
            known = KnownRows.load(known_rows, printed, plan.today)
        hasher = connection.cursor()  # this thread's own: the worker uses `connection`

        def store(
            result: Validated, unreadable: pa.Table, hashed: pa.Table, looked_up: pa.Table
        ) -> None:
            pending.write(unreadable_entries(unreadable))
            pending.write(result.quarantine)
            accepted = result.accepted
            if accepted.num_rows:
                hashes = content_hash(accepted, names, connection)
                at = pc.index_in(accepted.column(ROW), value_set=hashed.column(ROW))
                accepted = accepted.append_column(HASH, hashes)
                for name in (RAW_HI, RAW_LO):
                    accepted = accepted.append_column(name, hashed.column(name).take(at))
                accepted = accepted.append_column(KNOWN, pa.repeat(False, accepted.num_rows))
                out.write_table(accepted.select(schema.names).cast(schema))
            if looked_up.num_rows:
                out.write_table(looked_up)

        for raw in source.batches():
            rows_read += len(raw.rows) + raw.unreadable.num_rows
            hi, lo = raw_hashes(raw.values, names, hasher)
            hashed = pa.table({ROW: raw.rows, RAW_HI: hi, RAW_LO: lo})
            found = np.zeros(len(hi), dtype=bool)
            looked_up = schema.empty_table()
            if known is not None:
                found, keys, hashes = known.lookup(hi, lo)
                looked_up = _known_table(schema, plan, raw.rows, found, keys, hashes, hi, lo)
                known_count += looked_up.num_rows
            if found.any():
                unknown = pa.array(~found)
                raw = RawBatch(
                    rows=raw.rows.filter(unknown),
                    values=raw.values.filter(unknown),
                    unreadable=raw.unreadable,
                )
            result = validate_batch(raw, plan)
            background.submit(store, result, raw.unreadable, hashed, looked_up)
    if rows_read == 0:
        raise BatchRefused(
            RefusalReason.EMPTY_FILE, f"{path.name}: the file has a header but no data rows"
        )

    resolution = resolve(validated, plan.dataset, plan.mode, connection)
    conflicts_path = work / "conflicts.parquet"
    with QuarantineWriter(conflicts_path) as conflicts:
        conflicts.write(resolution.entries)
    summary = finish(
        [pending_path, conflicts_path],
        parquet=work / QUARANTINE_PARQUET,
        csv=work / QUARANTINE_CSV,
        connection=connection,
        batch_rows=batch_rows,
    )
    return _FileCheck(
        validated=validated,
        rows_read=rows_read,
        resolution=resolution,
        summary=summary,
        encoding=source.encoding,
        format=source.format.value,
        columns=source.columns,
        ignored=source.ignored,
        fingerprint=printed,
        today=plan.today,
        known=known_count,
    )


def _validated_schema(plan: Plan) -> pa.Schema:
    """The staged schema plus whether the row is known and its raw hash."""
    return (
        plan.schema.append(pa.field(KNOWN, pa.bool_()))
        .append(pa.field(RAW_HI, pa.uint64()))
        .append(pa.field(RAW_LO, pa.uint64()))
    )


def _known_table(
    schema: pa.Schema,
    plan: Plan,
    rows: pa.Array,
    found: np.ndarray,
    keys: pa.Array,
    hashes: pa.Array,
    hi: np.ndarray,
    lo: np.ndarray,
) -> pa.Table:
    """The known rows of a batch as validated rows: key, row, hash and raw hash, no values."""
    count = int(found.sum())
    columns = {
        SUBJECT_KEY: keys,
        ROW: rows.filter(pa.array(found)),
        HASH: hashes,
        KNOWN: pa.repeat(True, count),
        RAW_HI: pa.array(hi[found]),
        RAW_LO: pa.array(lo[found]),
    }
    arrays = [columns.get(f.name, pa.nulls(count, f.type)) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _write_staged(
    checked: _FileCheck, work: Path, plan: Plan, batch_rows: int, base: Path | None
) -> None:
    """The final staged file: the validated rows without those whose ``_row`` is in the
    resolution's ``drop``, compressed (the validated file is written uncompressed, which is
    several times faster), with dictionary encoding only for the columns of few distinct
    values; in a full batch also its row map. The staged file names ``base`` in its metadata
    when it has known rows."""
    dropped = pa.array(checked.resolution.drop, pa.int64())
    few = [f.name for f in plan.dataset.fields if f.type in (FieldType.ENUM, FieldType.BOOLEAN)]
    staged_schema = plan.schema
    if plan.mode == "delta":
        few.append(OPERATION)
    else:
        staged_schema = staged_schema.append(pa.field(KNOWN, pa.bool_()))
        few.append(KNOWN)
    if base is not None:
        staged_schema = staged_schema.with_metadata({BASE_SNAPSHOT: str(base.resolve())})
    row_map = map_schema(checked.fingerprint, checked.today)
    parquet = pq.ParquetFile(checked.validated)
    try:
        with (
            pq.ParquetWriter(
                work / STAGED,
                staged_schema,
                compression=STAGED_COMPRESSION,
                use_dictionary=few or False,
                write_statistics=[SUBJECT_KEY, ROW],
            ) as writer,
            contextlib.ExitStack() as maps,
            _Background() as background,
        ):
            mapped = None
            if plan.mode == "full":
                mapped = maps.enter_context(pa.ipc.new_file(str(work / ROW_MAP), row_map))

            def write(table: pa.Table) -> None:
                writer.write_table(table.select(staged_schema.names).cast(staged_schema))
                if mapped is not None:
                    mapped.write_table(table.select(row_map.names).cast(row_map))

            for batch in record_batches(parquet, batch_rows):
                keep = pc.invert(pc.is_in(batch.column(ROW), value_set=dropped))
                background.submit(write, pa.Table.from_batches([batch]).filter(keep))
    finally:
        parquet.close()


class _Background:
    """Runs one task at a time in a worker thread, in the order submitted, so that hashing and
    writing batch *k* overlap with reading and validating batch *k + 1* (Arrow and DuckDB
    release the GIL; the machines have two cores). A task waits for the one before it, so at
    most two batches are in memory; an error in a task is raised by the next ``submit`` or on
    leaving the ``with`` block."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-stage")
        self._task: Future[None] | None = None

    def submit(self, function: Callable[..., None], *args: object) -> None:
        self.wait()
        self._task = self._pool.submit(function, *args)

    def wait(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.result()

    def __enter__(self) -> _Background:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            if kind is None:
                self.wait()
            elif self._task is not None:
                self._task.cancel()
        finally:
            self._pool.shutdown(wait=True)


def _move(path: Path, directory: Path) -> Path:
    target = directory / path.name
    os.replace(path, target)
    return target


def _percent(share: float) -> str:
    """``0.0312`` -> ``3.12%``; three significant digits, no trailing zeros."""
    return f"{share * 100:.3g}%"
