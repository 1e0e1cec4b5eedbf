"""A department's file from registration to its outcome: the one path every intake takes.

The Dagster sensor, `onceonly publish` and (later) the upload API all call `register_file`, then
the pipeline's dataset asset calls `process_batch`. Keeping both here means a file dropped in
the inbox and a file published from the command line are the same batch, judged the same way.

* `register_file` hashes the file, registers the batch (the same content for the same dataset is
  recognised and changes nothing) and keeps a copy of the file under
  ``$ONCEONLY_HOME/batches/<batch id>/``, so the batch can be run again and traced to the exact
  bytes after the department's drop folder is cleared.
* `process_batch` stages the file (read, validate, quarantine), then either records the refusal
  or makes the dataset's next version. The batch row says where it got to: ``running`` while
  it works, ``accepted``/``refused`` when done, ``failed`` with the error if something broke,
  in which case running it again picks up where it stopped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from catalog.schema import Catalogue, Dataset
from exchange.audit import AuditEvent, AuditKind, AuditLog
from exchange.ingest.errors import BatchRefused
from exchange.ingest.history import head_version
from exchange.ingest.known import ROW_MAP
from exchange.ingest.models import Batch, BatchStatus
from exchange.ingest.stage import StagedBatch, stage_file
from exchange.ingest.versions import apply_staged, register_batch
from exchange.settings import Settings
from exchange.store.base import utcnow

Mode = Literal["full", "delta"]
SOURCE_NAME = "source"
_CHUNK = 1 << 20


class UnknownBatch(LookupError):
    """No batch with that id."""


@dataclass(frozen=True)
class BatchOutcome:
    """What became of a batch, as `onceonly publish` and the API report it."""

    batch_id: str
    dataset: str
    file_name: str
    file_sha256: str
    mode: str
    status: str
    already_known: bool
    rows_read: int | None
    rows_accepted: int | None
    rows_quarantined: int | None
    version: int | None
    refusal_reason: str | None
    refusal_message: str | None
    quarantine_csv: str | None
    run_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, batch: Batch, *, already_known: bool = False) -> BatchOutcome:
        return cls(
            batch_id=batch.id,
            dataset=batch.dataset_code,
            file_name=batch.file_name,
            file_sha256=batch.file_sha256,
            mode=batch.mode,
            status=batch.status,
            already_known=already_known,
            rows_read=batch.rows_read,
            rows_accepted=batch.rows_accepted,
            rows_quarantined=batch.rows_quarantined,
            version=batch.version,
            refusal_reason=batch.refusal_reason,
            refusal_message=batch.refusal_message,
            quarantine_csv=batch.quarantine_path,
            run_id=batch.run_id,
        )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def batch_dir(settings: Settings, batch_id: str) -> Path:
    return settings.home / "batches" / batch_id


def register_file(
    engine: Engine, settings: Settings, dataset: Dataset, path: Path, *, mode: Mode = "full"
) -> tuple[Batch, bool]:
    """Register `path` as a batch of `dataset`; returns (batch, created). A file whose content
    the dataset already has returns the existing batch and created False: nothing changes."""
    path = Path(path)
    sha256 = file_sha256(path)
    with Session(engine, expire_on_commit=False) as session:
        batch, created = register_batch(
            session,
            dataset=dataset.code,
            department=dataset.department,
            file_name=path.name,
            file_sha256=sha256,
            file_size=path.stat().st_size,
            mode=mode,
        )
        if created:
            _keep_copy(path, batch_dir(settings, batch.id), sha256)
            _audit(session, settings, AuditKind.BATCH_REGISTERED, batch)
        session.commit()
    return batch, created


def _keep_copy(path: Path, folder: Path, sha256: str) -> None:
    """Hard-link (or copy) the file into the batch's folder; the copy is checked by its hash."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (SOURCE_NAME + "".join(path.suffixes[-1:]).lower())
    if target.exists():
        return
    partial = target.with_name(target.name + ".partial")
    try:
        os.link(path, partial)
    except OSError:
        shutil.copyfile(path, partial)
    if file_sha256(partial) != sha256:
        partial.unlink()
        raise OSError(f"{path} changed while it was being registered; drop it again")
    partial.replace(target)


def source_file(settings: Settings, batch: Batch) -> Path:
    folder = batch_dir(settings, batch.id)
    matches = sorted(folder.glob(f"{SOURCE_NAME}*"))
    matches = [path for path in matches if not path.name.endswith(".partial")]
    if not matches:
        raise FileNotFoundError(f"batch {batch.id}: its copy of {batch.file_name} is missing")
    return matches[0]


def get_batch(engine: Engine, batch_id: str) -> Batch:
    with Session(engine, expire_on_commit=False) as session:
        batch = session.get(Batch, batch_id)
    if batch is None:
        raise UnknownBatch(f"no batch {batch_id!r}")
    return batch


def list_batches(engine: Engine, *, dataset: str | None = None, limit: int = 50) -> list[Batch]:
    query = select(Batch).order_by(Batch.registered_at.desc(), Batch.id.desc()).limit(limit)
    if dataset:
        query = query.where(Batch.dataset_code == dataset)
    with Session(engine, expire_on_commit=False) as session:
        return list(session.scalars(query))


def process_batch(
    engine: Engine,
    settings: Settings,
    catalogue: Catalogue,
    batch_id: str,
    *,
    run_id: str | None = None,
) -> BatchOutcome:
    """Stage the batch's file, then refuse it or make the dataset's next version.

    A batch already accepted or refused is returned as it is: running it again changes nothing.
    """
    batch = get_batch(engine, batch_id)
    if batch.status in (BatchStatus.ACCEPTED, BatchStatus.REFUSED):
        return BatchOutcome.of(batch, already_known=True)
    dataset = catalogue.dataset(batch.dataset_code)
    _update(engine, batch_id, status=BatchStatus.RUNNING, run_id=run_id)
    try:
        staged = stage_file(
            source_file(settings, batch),
            dataset,
            out_dir=batch_dir(settings, batch_id),
            mode=batch.mode,  # type: ignore[arg-type]
            **_known_rows(engine, settings, dataset.code),
        )
    except BatchRefused as refusal:
        quarantine = refusal.quarantine_csv
        return _finish(
            engine,
            settings,
            batch_id,
            status=BatchStatus.REFUSED,
            refusal_reason=refusal.reason.value,
            refusal_message=refusal.message,
            quarantine_path=str(quarantine) if quarantine else None,
        )
    except Exception as exc:
        _finish(engine, settings, batch_id, status=BatchStatus.FAILED, refusal_message=repr(exc))
        raise
    try:
        version = apply_staged(
            engine,
            dataset=dataset,
            batch_id=batch_id,
            staged_path=staged.staged_path,
            mode=batch.mode,  # type: ignore[arg-type]
            file_sha256=batch.file_sha256,
            run_id=run_id,
            parquet_dir=settings.parquet_dir,
        )
    except Exception as exc:
        _finish(engine, settings, batch_id, status=BatchStatus.FAILED, refusal_message=repr(exc))
        raise
    return _finish(
        engine,
        settings,
        batch_id,
        status=BatchStatus.ACCEPTED,
        version=version.version,
        quarantine_path=str(staged.quarantine_csv),
        stats=_stats(staged)
        | {
            "added": version.added,
            "changed": version.changed,
            "ended": version.ended,
            "row_count": version.row_count,
        },
        **_counts(staged),
    )


def _known_rows(engine: Engine, settings: Settings, dataset: str) -> dict[str, Path]:
    """The row map of the batch that made the dataset's current version, and that version's
    snapshot, when that batch was a full one (see `exchange.ingest.known`)."""
    with engine.connect() as connection:
        head = head_version(connection, dataset)
        if head is None:
            return {}
        mode = connection.scalar(select(Batch.mode).where(Batch.id == head.batch_id))
    row_map = batch_dir(settings, head.batch_id) / ROW_MAP
    if mode != "full" or not row_map.is_file():
        return {}
    return {"known_rows": row_map, "base_snapshot": settings.parquet_dir / head.snapshot}


def _counts(staged: StagedBatch) -> dict[str, int]:
    return {
        "rows_read": staged.rows_read,
        "rows_accepted": staged.rows_accepted,
        "rows_quarantined": staged.rows_quarantined,
    }


def _stats(staged: StagedBatch) -> dict[str, Any]:
    return {
        "format": staged.format,
        "encoding": staged.encoding,
        "columns": staged.columns,
        "ignored_columns": list(staged.ignored_columns),
        "duplicates_collapsed": staged.duplicates_collapsed,
        "rows_known": staged.rows_known,
        "reasons": staged.reasons,
    }


def _update(
    engine: Engine, batch_id: str, *, settings: Settings | None = None, **values: Any
) -> Batch:
    """Change the batch's row; with ``settings``, its outcome also goes to the audit log in the
    same transaction."""
    with Session(engine, expire_on_commit=False) as session:
        batch = session.get(Batch, batch_id)
        assert batch is not None
        for name, value in values.items():
            setattr(batch, name, value.value if isinstance(value, BatchStatus) else value)
        if settings is not None:
            session.flush()
            _audit(session, settings, AuditKind.BATCH_OUTCOME, batch)
        session.commit()
    return batch


def _finish(engine: Engine, settings: Settings, batch_id: str, **values: Any) -> BatchOutcome:
    return BatchOutcome.of(
        _update(engine, batch_id, settings=settings, finished_at=utcnow(), **values)
    )


def _audit(session: Session, settings: Settings, kind: AuditKind, batch: Batch) -> None:
    """A publication and its outcome are part of the audit trail (no subject: a whole file)."""
    details = {
        "batch": batch.id,
        "dataset": batch.dataset_code,
        "file_sha256": batch.file_sha256,
        "mode": batch.mode,
        "status": batch.status,
    }
    outcome = {
        "version": batch.version,
        "rows_read": batch.rows_read,
        "rows_accepted": batch.rows_accepted,
        "rows_quarantined": batch.rows_quarantined,
        "refusal_reason": batch.refusal_reason,
        "run_id": batch.run_id,
    }
    details |= {name: value for name, value in outcome.items() if value is not None}
    event = AuditEvent(kind=kind, actor=batch.department_code, role="department", details=details)
    AuditLog(session.get_bind(), subject_secret=settings.passphrase).append(session, [event])
