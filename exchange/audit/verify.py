"""Full verification of the audit log: entries, tree, head, checkpoints and the witness.

`verify_log` trusts nothing in the store. In one read snapshot it streams the entries and the
tree's nodes in chunks of leaves (memory stays bounded whatever the log's size) and checks
three links, each reported on its own so that one tampering is not drowned in its consequences:

1. **entries → leaves.** Each entry's leaf data must hash to the leaf the tree holds at its
   index, and its indexed columns must equal the leaf's values. The first entry that does not
   is diagnosed from what sits around it (`ProblemKind`): a leaf the tree has and no entry
   carries is *deleted*; an entry whose content is the tree's leaf at another index is
   *reordered* (or, when the following entries are all shifted back by as many places, the
   entries in between were *deleted* and the rest renumbered); an entry that matches no leaf
   is *inserted* when the next entry holds this index's leaf, else *edited*; an entry past the
   tree's size is *inserted*. Only the first bad entry is diagnosed: what follows it is usually
   its consequence.
2. **leaves → tree.** The whole tree is recomputed from the leaves (`merkle.TreeBuilder`) and
   every stored node must equal the recomputed one; the head's root must be the recomputed
   root.
3. **tree → signatures.** Every checkpoint in the store and in the witness file must carry a
   valid signature by a known key, and the recomputed root at its size must be its root. The
   witness catches what the store cannot show about itself: a store *rolled back* to an older
   copy (smaller than a checkpoint witnessed earlier) or rewritten since (*diverged*); an
   empty or missing witness while the store holds checkpoints is reported too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Engine, func, select

from exchange.audit import merkle
from exchange.audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointSignatureError,
    open_checkpoint,
    read_witness,
)
from exchange.audit.events import parse_time
from exchange.audit.log import b64, read_head, read_nodes
from exchange.audit.models import AuditCheckpoint, AuditEntry, AuditNode

__all__ = ["Problem", "ProblemKind", "VerifyReport", "verify_log"]

CHUNK = 1 << 16


class ProblemKind(StrEnum):
    EDITED = "edited"
    DELETED = "deleted"
    REORDERED = "reordered"
    INSERTED = "inserted"
    TREE_EDITED = "tree_edited"
    TREE_MISSING = "tree_missing"
    HEAD_MISMATCH = "head_mismatch"
    BAD_CHECKPOINT = "bad_checkpoint"
    BAD_CHECKPOINT_SIGNATURE = "bad_checkpoint_signature"
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    ROLLED_BACK = "rolled_back"
    DIVERGED = "diverged"
    WITNESS_MISSING = "witness_missing"


@dataclass(frozen=True)
class Problem:
    """One finding: its kind, the entry index it concerns (if one) and a sentence saying it."""

    kind: ProblemKind
    index: int | None
    message: str


@dataclass
class VerifyReport:
    entries: int = 0
    tree_size: int = 0
    root: bytes = merkle.EMPTY_ROOT
    checkpoints: int = 0
    witnessed: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_entry(self) -> int | None:
        indexes = [problem.index for problem in self.problems if problem.index is not None]
        return min(indexes, default=None)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (root in base64), as `onceonly audit verify --json` and the API give it."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "root": b64(self.root),
            "first_bad_entry": self.first_bad_entry,
            "checkpoints": self.checkpoints,
            "witnessed": self.witnessed,
            "problems": [
                {"kind": str(p.kind), "entry": p.index, "message": p.message} for p in self.problems
            ],
        }

    def add(self, kind: ProblemKind, index: int | None, message: str) -> None:
        self.problems.append(Problem(kind, index, message))


@dataclass(frozen=True)
class _Row:
    seq: int
    recorded_at: datetime
    kind: str
    subject_hash: str | None
    leaf: str

    @property
    def leaf_hash(self) -> bytes:
        return merkle.leaf_hash(self.leaf.encode("utf-8"))


def verify_log(
    engine: Engine,
    *,
    public_keys: Mapping[str, Ed25519PublicKey],
    witness: Path | None = None,
    chunk: int = CHUNK,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Check the whole log; ``progress(done, total)`` is called after each chunk of leaves."""
    if chunk <= 0 or chunk & (chunk - 1):
        raise ValueError("chunk must be a power of two")
    report = VerifyReport()
    with engine.connect() as connection:
        _snapshot(connection)
        try:
            _verify(connection, report, public_keys, witness, chunk, progress)
        finally:
            connection.rollback()
    return report


def _snapshot(connection: Connection) -> None:
    """One consistent view of every table, whatever is appended meanwhile."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN")  # pysqlite opens no transaction for reads
    else:
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def _verify(
    connection: Connection,
    report: VerifyReport,
    public_keys: Mapping[str, Ed25519PublicKey],
    witness: Path | None,
    chunk: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    size, head_root = read_head(connection)
    report.tree_size = size
    stored = _stored_checkpoints(connection, report, public_keys)
    witnessed = _witnessed_checkpoints(witness, report, public_keys) if witness else []
    if witness is not None and not report.witnessed and report.checkpoints:
        report.add(
            ProblemKind.WITNESS_MISSING,
            None,
            f"the witness {witness} holds no checkpoint but the store holds "
            f"{report.checkpoints}: it was lost or replaced, so a rollback cannot be ruled out",
        )
    last_seq, report.entries = connection.execute(
        select(func.max(AuditEntry.seq), func.count())
    ).one()
    end = max(size, (last_seq + 1) if last_seq is not None else 0)
    wanted = {size} | {cp.size for cp, _ in stored} | {cp.size for cp, _ in witnessed}
    roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT}
    builder = merkle.TreeBuilder()
    pending: dict[int, bytes] = {}  # stored internal nodes not yet recomputed
    entries = _EntryCheck(connection, report, size)
    for start in range(0, max(end, 1), chunk):
        stop = start + chunk
        rows = _rows(connection, start, stop)
        nodes = dict(
            connection.execute(
                select(AuditNode.id, AuditNode.hash).where(
                    AuditNode.id >= 2 * start, AuditNode.id < 2 * stop
                )
            ).all()
        )
        leaves = {node // 2: bytes(value) for node, value in nodes.items() if node % 2 == 0}
        pending.update((node, bytes(value)) for node, value in nodes.items() if node % 2)
        for index in range(start, min(stop, end)):
            entries.check(index, rows, leaves)
            if index >= size:
                continue
            leaf = leaves.get(index)
            if leaf is None:
                if not _has(report, ProblemKind.TREE_MISSING):
                    report.add(
                        ProblemKind.TREE_MISSING, index, f"the tree has no leaf for entry {index}"
                    )
                row = rows.get(index)
                leaf = row.leaf_hash if row else merkle.EMPTY_ROOT
            for level, position, value in builder.append(leaf)[1:]:
                _check_node(report, pending, level, position, value)
            if builder.size in wanted:
                roots[builder.size] = builder.root()
        for index in (key for key in leaves if key >= size):
            _extra_node(report, merkle.node_id(0, index), size)
        if progress:
            progress(min(stop, end), end)
    for node in pending:
        _extra_node(report, node, size)
    report.root = roots[size]
    if report.root != head_root:
        report.add(
            ProblemKind.HEAD_MISMATCH,
            None,
            f"the head's root for {size} entries is not the root of the stored tree",
        )
    _compare_checkpoints(report, stored, roots, size, "the store")
    _compare_witness(report, witnessed, roots, size)


class _EntryCheck:
    """Diagnoses the first entry that does not match the tree (module docstring, link 1)."""

    def __init__(self, connection: Connection, report: VerifyReport, size: int) -> None:
        self.connection, self.report, self.size = connection, report, size
        self.done = False

    def check(self, index: int, rows: dict[int, _Row], leaves: dict[int, bytes]) -> None:
        if self.done:
            return
        row = rows.get(index) or self._row(index)
        if index >= self.size:
            if row is not None:
                self._found(
                    ProblemKind.INSERTED,
                    index,
                    f"entry {index} is not in the tree, which has {self.size} entries: "
                    "it was inserted outside the log",
                )
            return
        if row is None:
            self._found(
                ProblemKind.DELETED,
                index,
                f"entry {index} is missing: the tree has its leaf, the store has no entry",
            )
            return
        expected = leaves.get(index) or self._leaf(index)
        actual = row.leaf_hash
        if actual == expected:
            column = _edited_column(row)
            if column:
                self._found(
                    ProblemKind.EDITED,
                    index,
                    f"entry {index} was edited: its {column} column no longer matches its "
                    "signed leaf data",
                )
            return
        self._diagnose(index, row, actual)

    def _diagnose(self, index: int, row: _Row, actual: bytes) -> None:
        claimed = _claimed_index(row)
        origin = claimed if claimed is not None and self._leaf(claimed) == actual else None
        following = self._row(index + 1)
        holds = following.leaf_hash if following else None
        if holds is not None and holds == self._leaf(index) and origin != index + 1:
            self._found(
                ProblemKind.INSERTED,
                index,
                f"entry {index} is not in the tree: it was inserted, and the entries after it "
                "renumbered",
            )
        elif (
            origin is not None
            and origin > index
            and (following is None or holds == self._leaf(origin + 1))
        ):
            gone = (
                f"entry {index} is" if origin == index + 1 else f"entries {index}-{origin - 1} are"
            )
            self._found(
                ProblemKind.DELETED,
                index,
                f"{gone} missing: deleted, and the entries after renumbered to close the gap",
            )
        elif origin is not None:
            self._found(
                ProblemKind.REORDERED,
                index,
                f"entry {index} holds entry {origin}'s content: entries were reordered",
            )
        else:
            self._found(
                ProblemKind.EDITED,
                index,
                f"entry {index} was edited: its content no longer hashes to the tree's leaf "
                f"{index}",
            )

    def _found(self, kind: ProblemKind, index: int, message: str) -> None:
        self.report.add(kind, index, message)
        self.done = True

    def _row(self, index: int) -> _Row | None:
        return _rows(self.connection, index, index + 1).get(index)

    def _leaf(self, index: int) -> bytes | None:
        if not 0 <= index < self.size:
            return None
        return read_nodes(self.connection, [merkle.node_id(0, index)]).get(merkle.node_id(0, index))


def _rows(connection: Connection, start: int, stop: int) -> dict[int, _Row]:
    result = connection.execute(
        select(
            AuditEntry.seq,
            AuditEntry.recorded_at,
            AuditEntry.kind,
            AuditEntry.subject_hash,
            AuditEntry.leaf,
        ).where(AuditEntry.seq >= start, AuditEntry.seq < stop)
    )
    return {row.seq: _Row(*row) for row in result}


def _leaf_fields(row: _Row) -> dict | None:
    try:
        fields = json.loads(row.leaf)
    except ValueError:
        return None
    return fields if isinstance(fields, dict) else None


def _claimed_index(row: _Row) -> int | None:
    fields = _leaf_fields(row)
    index = fields.get("index") if fields else None
    return index if isinstance(index, int) and not isinstance(index, bool) else None


def _edited_column(row: _Row) -> str | None:
    """The indexed column that no longer repeats the leaf's value, if any."""
    fields = _leaf_fields(row) or {}
    if row.kind != fields.get("kind"):
        return "kind"
    if row.subject_hash != fields.get("subject"):
        return "subject_hash"
    moment = row.recorded_at
    if moment.tzinfo is None:  # SQLite keeps no zone; the log writes UTC
        moment = moment.replace(tzinfo=UTC)
    try:
        if moment != parse_time(str(fields.get("time"))):
            return "recorded_at"
    except ValueError:
        return "recorded_at"
    return None


def _has(report: VerifyReport, kind: ProblemKind) -> bool:
    return any(problem.kind is kind for problem in report.problems)


def _check_node(
    report: VerifyReport, pending: dict[int, bytes], level: int, position: int, value: bytes
) -> None:
    node = merkle.node_id(level, position)
    stored = pending.pop(node, None)
    first_leaf = position << level
    if stored is None and not _has(report, ProblemKind.TREE_MISSING):
        report.add(
            ProblemKind.TREE_MISSING,
            first_leaf,
            f"the tree has no node over entries {first_leaf}-{((position + 1) << level) - 1}",
        )
    elif stored is not None and stored != value and not _has(report, ProblemKind.TREE_EDITED):
        report.add(
            ProblemKind.TREE_EDITED,
            first_leaf,
            f"the tree's node over entries {first_leaf}-{((position + 1) << level) - 1} was "
            "edited: it is not the hash of its children",
        )


def _extra_node(report: VerifyReport, node: int, size: int) -> None:
    if not _has(report, ProblemKind.TREE_EDITED):
        report.add(
            ProblemKind.TREE_EDITED,
            None,
            f"the tree holds node {node}, beyond its {size} entries: it was inserted",
        )


def _stored_checkpoints(
    connection: Connection,
    report: VerifyReport,
    public_keys: Mapping[str, Ed25519PublicKey],
) -> list[tuple[Checkpoint, str]]:
    checked = []
    rows = connection.execute(
        select(
            AuditCheckpoint.id,
            AuditCheckpoint.tree_size,
            AuditCheckpoint.root,
            AuditCheckpoint.note,
        ).order_by(AuditCheckpoint.id)
    ).all()
    report.checkpoints = len(rows)
    for row in rows:
        where = f"checkpoint #{row.id} in the store"
        signed = _open(report, row.note, public_keys, where)
        if signed is None:
            continue
        if (signed.size, signed.root) != (row.tree_size, bytes(row.root)):
            report.add(
                ProblemKind.BAD_CHECKPOINT,
                None,
                f"{where}: its columns no longer repeat its signed size and root",
            )
            continue
        checked.append((signed, where))
    return checked


def _witnessed_checkpoints(
    path: Path, report: VerifyReport, public_keys: Mapping[str, Ed25519PublicKey]
) -> list[tuple[Checkpoint, str]]:
    try:
        records = read_witness(path)
    except CheckpointError as exc:
        report.add(ProblemKind.BAD_CHECKPOINT, None, str(exc))
        return []
    report.witnessed = len(records)
    checked = []
    for number, note in records:
        where = f"witnessed checkpoint {path}:{number}"
        signed = _open(report, note, public_keys, where)
        if signed is not None:
            checked.append((signed, where))
    return checked


def _open(
    report: VerifyReport, note: str, public_keys: Mapping[str, Ed25519PublicKey], where: str
) -> Checkpoint | None:
    try:
        return open_checkpoint(note, public_keys)
    except CheckpointError as exc:
        kind = (
            ProblemKind.BAD_CHECKPOINT_SIGNATURE
            if isinstance(exc, CheckpointSignatureError)
            else ProblemKind.BAD_CHECKPOINT
        )
        report.add(kind, None, f"{where}: {exc}")
        return None


def _compare_checkpoints(
    report: VerifyReport,
    checkpoints: list[tuple[Checkpoint, str]],
    roots: Mapping[int, bytes],
    size: int,
    place: str,
) -> None:
    for signed, where in checkpoints:
        if signed.size > size:
            report.add(
                ProblemKind.ROLLED_BACK,
                size,
                f"{where} signed {signed.size} entries at {signed.time:%Y-%m-%d %H:%M:%S} UTC, "
                f"{place} has {size}: entries {size}-{signed.size - 1} are gone",
            )
        elif roots.get(signed.size) != signed.root:
            report.add(
                ProblemKind.CHECKPOINT_MISMATCH,
                None,
                f"{where} ({signed.size} entries, signed {signed.time:%Y-%m-%d %H:%M:%S} UTC) "
                f"does not match the tree: entries before {signed.size} were rewritten",
            )


def _compare_witness(
    report: VerifyReport,
    witnessed: list[tuple[Checkpoint, str]],
    roots: Mapping[int, bytes],
    size: int,
) -> None:
    if not witnessed:
        return
    newest, where = max(witnessed, key=lambda item: item[0].size)
    if newest.size > size:
        report.add(
            ProblemKind.ROLLED_BACK,
            size,
            f"the store was rolled back to an older copy: it has {size} entries, but "
            f"{where} signed {newest.size} at {newest.time:%Y-%m-%d %H:%M:%S} UTC "
            f"(entries {size}-{newest.size - 1} are gone)",
        )
    for signed, where in witnessed:
        if signed.size <= size and roots.get(signed.size) != signed.root:
            report.add(
                ProblemKind.DIVERGED,
                None,
                f"the store diverged from {where} ({signed.size} entries, signed "
                f"{signed.time:%Y-%m-%d %H:%M:%S} UTC): entries before {signed.size} were "
                "rewritten",
            )
            return
