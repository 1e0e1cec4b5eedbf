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
from exchange.ingest.quarantine import (
    QuarantineSummary,
    QuarantineWriter,
    finish,
    unreadable_entries,
)
from exchange.ingest.read import OPERATION, open_source
from exchange.ingest.readers.parquet import record_batches
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


def stage_file(
    path: Path,
    dataset: Dataset,
    *,
    out_dir: Path,
    mode: Literal["full", "delta"] = "full",
    encoding: str | None = None,
    today: date | None = None,
    batch_rows: int = 200_000,
) -> StagedBatch:
    """Validate ``path`` as a file of ``dataset`` and stage it into ``out_dir``.

    ``encoding`` overrides the dataset's declared CSV encoding; ``today`` bounds resident birth
    dates (default: the local date). Raises :class:`~exchange.ingest.errors.BatchRefused` when
    the batch is refused whole.
    """
    path, out_dir = Path(path), Path(out_dir)
    plan = Plan(dataset, mode, today or date.today())
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    try:
        # DuckDB's memory is given back (the connection closed) before the final write.
        with duck.connect(work / "duckdb", memory_limit=DUCKDB_MEMORY) as connection:
            checked = _check_file(path, plan, work, encoding, batch_rows, connection)
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
        _write_staged(checked.validated, work / STAGED, checked.resolution.drop, plan, batch_rows)
        staged_path = _move(work / STAGED, out_dir)
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


def _check_file(
    path: Path,
    plan: Plan,
    work: Path,
    encoding: str | None,
    batch_rows: int,
    connection: duckdb.DuckDBPyConnection,
) -> _FileCheck:
    """Read, validate and hash every row, resolve duplicates, and write the quarantine."""
    names = [f.name for f in plan.dataset.fields]
    validated, pending_path = work / "validated.parquet", work / "pending.parquet"
    rows_read = 0
    with (
        open_source(
            path, plan.dataset, mode=plan.mode, encoding=encoding, batch_rows=batch_rows
        ) as source,
        pq.ParquetWriter(validated, plan.schema, compression="none", use_dictionary=False) as out,
        QuarantineWriter(pending_path) as pending,
        _Background() as background,
    ):

        def store(result: Validated, unreadable: pa.Table) -> None:
            pending.write(unreadable_entries(unreadable))
            pending.write(result.quarantine)
            accepted = result.accepted
            if accepted.num_rows:
                hashes = content_hash(accepted, names, connection)
                accepted = accepted.append_column(HASH, hashes).select(plan.schema.names)
                out.write_table(accepted.cast(plan.schema))

        for raw in source.batches():
            rows_read += len(raw.rows) + raw.unreadable.num_rows
            background.submit(store, validate_batch(raw, plan), raw.unreadable)
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
    )


def _write_staged(
    source: Path, target: Path, drop: np.ndarray, plan: Plan, batch_rows: int
) -> None:
    """The final staged file: the validated rows without those whose ``_row`` is in ``drop``,
    compressed (the validated file is written uncompressed, which is several times faster), with
    dictionary encoding only for the columns of few distinct values."""
    dropped = pa.array(drop, pa.int64())
    few = [f.name for f in plan.dataset.fields if f.type in (FieldType.ENUM, FieldType.BOOLEAN)]
    if plan.mode == "delta":
        few.append(OPERATION)
    parquet = pq.ParquetFile(source)
    try:
        with (
            pq.ParquetWriter(
                target,
                plan.schema,
                compression=STAGED_COMPRESSION,
                use_dictionary=few or False,
                write_statistics=[SUBJECT_KEY, ROW],
            ) as writer,
            _Background() as background,
        ):
            for batch in record_batches(parquet, batch_rows):
                keep = pc.invert(pc.is_in(batch.column(ROW), value_set=dropped))
                background.submit(writer.write_table, pa.Table.from_batches([batch]).filter(keep))
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
