"""The audit log in the store: durable appends with group commit, proofs, signed checkpoints.

**Appending.** Every append is one transaction that

1. knows the tree's right edge: from memory when this process wrote the last entries, else by
   updating the head row first (``UPDATE audit_head … RETURNING size, root``: on PostgreSQL
   that takes the row's lock, on SQLite the database's write lock, so appenders in every
   process of the exchange are serialised on it, and it reads the head as the lock is taken)
   and reading the O(log n) edge nodes in ``audit_node``, refusing to append if they do not
   give the head's root (`AuditIntegrityError`: the log fails closed rather than extend a
   tree it cannot vouch for);
2. moves the head to the new size and root only if it still says what the edge was built from
   (``UPDATE … WHERE size = ? AND root = ?``), which also takes the head's lock when the edge
   came from memory. If another process appended meanwhile, nothing was written yet: the
   transaction rolls back and is written again from step 1 under the head's lock. One
   statement fewer per commit in the usual case, which matters under load (see group commit).
   Every appender locks the head before writing anything else, so two never deadlock;
3. writes each entry with its leaf data (`exchange.audit.events.leaf_data`) and the hash of
   every complete subtree the new leaves complete (two per entry on average).

`AuditLog.record` returns only once that transaction is committed, so a caller answers a lookup
only after its trace is durable. On SQLite the log's own connection runs with
``synchronous=FULL`` (the store's default NORMAL may lose the last commits on power loss);
PostgreSQL commits are durable by default.

**Group commit.** Callers of `record` write for each other: the caller that finds nobody
writing becomes the writer, takes every event waiting (up to ``max_batch``) into one
transaction, answers their callers when it commits, and hands the pen to the first caller that
arrived meanwhile, whose turn takes everything that gathered during that commit. One fsync
serves many concurrent lookups, and throughput grows with the number of callers instead of
being one commit per event (``bench/audit.py`` measures it); a single caller pays one commit
per event, as it must. No separate writer thread: under load every thread switch waits for the
interpreter lock behind running prechecks, and a writer thread needs two more of them per
commit (to wake, and to wake its caller) than a caller writing its own batch.

`AuditLog.append` writes events inside a transaction the caller owns instead (a licence and its
audit entry committed together or not at all). Never call `record` while holding a write
transaction of your own on SQLite: the writer would wait for your lock while you wait for it.

**Proofs** read only the complete subtrees they need (`exchange.audit.merkle.proof_node_ids`),
in one query, for the current tree or any older size. **Checkpoints** are signed on demand
(`AuditLog.checkpoint`; the exchange schedules it), kept in ``audit_checkpoint`` and appended
to the witness file outside the database (`exchange.audit.checkpoint.append_witness`).
"""

from __future__ import annotations

import base64
import collections
import contextlib
import functools
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, LargeBinary, Table, insert, select
from sqlalchemy.orm import Session

from exchange.audit import merkle
from exchange.audit.checkpoint import (
    DEFAULT_ORIGIN,
    Checkpoint,
    Signer,
    append_witness,
    read_checkpoint,
    sign_checkpoint,
)
from exchange.audit.events import (
    AuditEvent,
    PreparedEvent,
    format_time,
    prepare,
    subject_key,
)
from exchange.audit.models import HEAD_ID, AuditCheckpoint, AuditEntry, AuditHead, AuditNode
from exchange.store.base import utcnow

__all__ = [
    "AuditIntegrityError",
    "AuditLog",
    "ConsistencyProof",
    "InclusionProof",
    "ProofError",
    "Receipt",
    "StoredEntry",
    "insert_many",
    "leaf_rows",
    "read_head",
]

MAX_BATCH = 2000


class _StaleEdge(Exception):
    """Another process appended since this one last did: the edge in memory is out of date."""


class AuditIntegrityError(RuntimeError):
    """The stored tree does not hold together; `exchange.audit.verify.verify_log` says where."""


class ProofError(ValueError):
    """A proof asked for sizes or an index the log does not have."""


@dataclass(frozen=True)
class Receipt:
    """Where an event landed: its leaf index and hash, and the time recorded in it."""

    index: int
    leaf_hash: bytes
    recorded_at: datetime


@dataclass(frozen=True)
class StoredEntry:
    """An entry as stored: its index, leaf data and the leaf hash the tree holds for it."""

    index: int
    leaf: str
    tree_leaf_hash: bytes | None

    @property
    def leaf_hash(self) -> bytes:
        """The hash of the leaf data as stored now (differs from the tree's if edited)."""
        return merkle.leaf_hash(self.leaf.encode("utf-8"))


@dataclass(frozen=True)
class InclusionProof:
    """Leaf ``index`` is in the tree of ``tree_size`` leaves whose root is ``root``."""

    index: int
    tree_size: int
    leaf_hash: bytes
    path: tuple[bytes, ...]
    root: bytes

    def verify(self, root: bytes | None = None) -> bool:
        """Check against ``root`` — a signed checkpoint's, not the one the log handed over."""
        return merkle.verify_inclusion(
            self.index, self.tree_size, self.leaf_hash, self.path, root or self.root
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, hashes in base64 (as the CLI prints and the API serves it)."""
        return {
            "entry": self.index,
            "tree_size": self.tree_size,
            "leaf_hash": b64(self.leaf_hash),
            "path": [b64(node) for node in self.path],
            "root": b64(self.root),
        }


@dataclass(frozen=True)
class ConsistencyProof:
    """The tree of ``new_size`` leaves extends the tree of ``old_size`` leaves."""

    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    path: tuple[bytes, ...]

    def verify(self, old_root: bytes | None = None, new_root: bytes | None = None) -> bool:
        return merkle.verify_consistency(
            self.old_size,
            self.new_size,
            old_root or self.old_root,
            new_root or self.new_root,
            self.path,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "old_size": self.old_size,
            "new_size": self.new_size,
            "old_root": b64(self.old_root),
            "new_root": b64(self.new_root),
            "path": [b64(node) for node in self.path],
        }


def b64(value: bytes) -> str:
    """A hash as the JSON forms of proofs, reports and checkpoints spell it: base64."""
    return base64.b64encode(value).decode()


@dataclass
class _Pending:
    """One caller's events waiting to be written, and what came of them."""

    events: Sequence[PreparedEvent]
    woken: threading.Event = field(default_factory=threading.Event)
    writes: bool = False  # this caller writes the next batch
    receipts: list[Receipt] | None = None
    error: BaseException | None = None

    def outcome(self) -> list[Receipt]:
        if self.error is not None:
            raise self.error
        assert self.receipts is not None
        return self.receipts


@dataclass(frozen=True)
class _Edge:
    """The right edge of the tree this process last committed, to resume without reading it."""

    size: int
    root: bytes
    hashes: tuple[bytes, ...]


def read_head(connection: Connection) -> tuple[int, bytes]:
    """The tree's size and root as the head row says."""
    size, root = connection.execute(
        select(AuditHead.size, AuditHead.root).where(AuditHead.id == HEAD_ID)
    ).one()
    return size, bytes(root)


def read_nodes(connection: Connection, ids: Iterable[int]) -> dict[int, bytes]:
    """The stored hashes of these node ids (absent ids are simply missing)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = connection.execute(select(AuditNode.id, AuditNode.hash).where(AuditNode.id.in_(wanted)))
    return {node: bytes(value) for node, value in rows}


def leaf_rows(
    events: Sequence[PreparedEvent], start: int, recorded_at: datetime
) -> Iterable[tuple[dict[str, Any], bytes]]:
    """The ``audit_entry`` row and leaf hash of each prepared event, from index ``start`` on."""
    time = format_time(recorded_at).encode("ascii")
    for offset, event in enumerate(events):
        data = event.leaf_at(start + offset, time)
        row = {
            "seq": start + offset,
            "recorded_at": recorded_at,
            "kind": event.kind,
            "subject_hash": event.subject_hash,
            "leaf": data.decode("utf-8"),
        }
        yield row, merkle.leaf_hash(data)


def run_driver_sql(connection: Connection, sql: str, params: Sequence[Any]) -> Any:
    """Execute ``sql`` (``?`` placeholders) on the connection's driver cursor, inside whatever
    transaction the connection is in; the first row it returns, or the rows it changed.

    The audit writer's statements go straight to the driver rather than through SQLAlchemy's
    statement and result machinery: built, compiled and cache-keyed per call, that machinery
    cost more than the rest of an append together, and the writer runs beside prechecks that
    need the same interpreter. Values must already be as the driver takes them
    (`driver_values`).
    """
    cursor = connection.connection.cursor()
    try:
        cursor.execute(_placeholders(connection.dialect, sql), params)
        return cursor.fetchone() if cursor.description else cursor.rowcount
    finally:
        cursor.close()


def driver_values(dialect: Dialect, table: Table, rows: Sequence[dict[str, Any]]) -> list[Any]:
    """The rows' values as the driver takes them: tuples, each value through its column type's
    bind processor. Rows share their time, so a processed value is reused while the input is
    the same object."""
    values: list[Any] = [tuple(row.values()) for row in rows]
    processed = _processors(dialect, table, tuple(rows[0]))
    if processed:
        memo: dict[int, tuple[Any, Any]] = {}
        for number, row in enumerate(values):
            row = list(row)
            for position, process in processed:
                seen = memo.get(position)
                if seen is None or seen[0] is not row[position]:
                    seen = memo[position] = (row[position], process(row[position]))
                row[position] = seen[1]
            values[number] = tuple(row)
    return values


def _placeholders(dialect: Dialect, sql: str) -> str:
    return sql if dialect.paramstyle == "qmark" else sql.replace("?", "%s")


@functools.lru_cache(maxsize=64)
def _processors(
    dialect: Dialect, table: Table, columns: tuple[str, ...]
) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    """The bind processors of ``columns`` that change a value on this dialect, by position."""
    found = []
    for position, name in enumerate(columns):
        column_type = table.c[name].type
        if isinstance(column_type, LargeBinary):  # sqlite3 and psycopg both take bytes as is
            continue
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            found.append((position, process))
    return tuple(found)


#: Bound values per statement: SQLite's default limit (32,766) is the lower of the two.
MAX_VARIABLES = 32_766


def insert_many(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys, in order) with multi-row ``VALUES`` statements.

    One statement per chunk rather than ``executemany``: sqlite3 steps ``executemany`` once per
    row and hands the interpreter lock back at every step, and under load each step then waits
    for the lock again; one statement steps once. Chunks stay under `MAX_VARIABLES`.
    """
    if not rows:
        return
    columns = list(rows[0])
    values = driver_values(connection.dialect, table, rows)
    group = "(" + ", ".join(["?"] * len(columns)) + ")"
    per_statement = MAX_VARIABLES // len(columns)
    head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
    for start in range(0, len(values), per_statement):
        chunk = values[start : start + per_statement]
        sql = head + ", ".join([group] * len(chunk))
        run_driver_sql(connection, sql, [value for row in chunk for value in row])


_HEAD = AuditHead.__table__
#: Takes the head row's lock (PostgreSQL: the row; SQLite: the database's write lock) and reads
#: it as the lock is taken.
_LOCK_HEAD = f"UPDATE {_HEAD.name} SET size = size WHERE id = ? RETURNING size, root"
_SET_HEAD = (
    f"UPDATE {_HEAD.name} SET size = ?, root = ?, updated_at = ? "
    "WHERE id = ? AND size = ? AND root = ?"
)


class AuditLog:
    """The exchange's audit log over one store; one instance per process, shared by threads."""

    def __init__(
        self,
        engine: Engine,
        *,
        subject_secret: bytes,
        origin: str = DEFAULT_ORIGIN,
        witness: Path | None = None,
        max_batch: int = MAX_BATCH,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.origin = origin
        self.witness = witness
        self._key = subject_key(subject_secret)
        self._max_batch = max_batch
        self._clock = clock
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._waiting: collections.deque[_Pending] = collections.deque()
        self._writing = False  # a caller holds the pen (or has been handed it)
        self._connection: Connection | None = None
        self._edge: _Edge | None = None
        self._closed = False

    # --- appending ----------------------------------------------------------------------------

    def record(self, event: AuditEvent) -> Receipt:
        """Append one event; returns once it is committed (durable)."""
        return self.record_many([event])[0]

    def record_many(self, events: Sequence[AuditEvent]) -> list[Receipt]:
        """Append events at consecutive indexes, in one transaction; returns once committed."""
        if not events:
            return []
        pending = _Pending([prepare(event, self._key) for event in events])
        with self._lock:
            if self._closed:
                raise RuntimeError("this audit log is closed")
            self._waiting.append(pending)
            pending.writes = not self._writing
            self._writing = True
        if not pending.writes:
            pending.woken.wait()  # answered, or handed the pen
        if pending.writes:
            self._write_batch()
        return pending.outcome()

    def append(
        self, connection: Connection | Session, events: Sequence[AuditEvent]
    ) -> list[Receipt]:
        """Append events inside the caller's transaction; they are durable when it commits.

        The head row stays locked until then, so keep that transaction short.
        """
        if isinstance(connection, Session):
            connection = connection.connection()
        prepared = [prepare(event, self._key) for event in events]
        receipts, _ = self._append(connection, prepared, None)
        return receipts

    def _write_batch(self) -> None:
        """Write the events waiting now in one transaction, answer their callers, and hand the
        pen to the first caller that arrived meanwhile (or put it down)."""
        with self._lock:
            batch, count = [], 0
            while self._waiting and (not batch or count < self._max_batch):
                batch.append(self._waiting.popleft())
                count += len(batch[-1].events)
        try:
            events = [event for pending in batch for event in pending.events]
            receipts = self._commit(events)
            start = 0
            for pending in batch:
                pending.receipts = receipts[start : start + len(pending.events)]
                start += len(pending.events)
        except BaseException as exc:  # every caller in the batch learns why
            self._edge = None
            if self._connection is not None:
                with contextlib.suppress(Exception):
                    self._connection.invalidate()
                    self._connection.close()
                self._connection = None
            for pending in batch:
                pending.error = exc
        finally:
            with self._lock:
                successor = self._waiting[0] if self._waiting else None
                if successor is None:
                    self._writing = False
                    self._idle.notify_all()
                else:
                    successor.writes = True
            for pending in batch:
                pending.woken.set()
            if successor is not None:
                successor.woken.set()

    def _commit(self, events: Sequence[PreparedEvent]) -> list[Receipt]:
        """Append ``events`` in one transaction on the log's own connection and commit; from
        the edge in memory first, from the stored head if another process appended meanwhile."""
        connection = self._connection = self._connection or self._writer_connection()
        taken = connection.dialect.dbapi.IntegrityError
        edge = self._edge
        while True:
            try:
                with connection.begin():
                    receipts, written = self._append(connection, events, edge)
            except (_StaleEdge, taken):
                if edge is None:
                    raise
                edge = None
                continue
            self._edge = written
            return receipts

    def _writer_connection(self) -> Connection:
        connection = self.engine.connect()
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA synchronous=FULL")
            connection.commit()
        return connection

    def _append(
        self, connection: Connection, events: Sequence[PreparedEvent], edge: _Edge | None
    ) -> tuple[list[Receipt], _Edge]:
        if edge is None:
            size, root = run_driver_sql(connection, _LOCK_HEAD, (HEAD_ID,))
            root = bytes(root)
            builder = self._resume(connection, size, root)
        else:
            size, root = edge.size, edge.root
            builder = merkle.TreeBuilder(size, edge.hashes)
        now = self._clock()
        entries, nodes, receipts = [], [], []
        for row, value in leaf_rows(events, size, now):
            entries.append(row)
            receipts.append(Receipt(row["seq"], value, now))
            nodes.extend(
                {"id": merkle.node_id(level, index), "hash": digest}
                for level, index, digest in builder.append(value)
            )
        new_root = builder.root()
        # The head first, whichever way the edge was found: every appender locks the head row
        # before it writes a row another could be waiting for, so two never wait on each other.
        head = {"size": builder.size, "root": new_root, "updated_at": now}
        values = driver_values(connection.dialect, _HEAD, [head])[0] + (HEAD_ID, size, root)
        if run_driver_sql(connection, _SET_HEAD, values) != 1:
            if edge is not None:
                raise _StaleEdge
            raise AuditIntegrityError("the audit head moved while this append held its lock")
        insert_many(connection, AuditEntry.__table__, entries)
        insert_many(connection, AuditNode.__table__, nodes)
        return receipts, _Edge(builder.size, new_root, tuple(builder.edge))

    @staticmethod
    def _resume(connection: Connection, size: int, root: bytes) -> merkle.TreeBuilder:
        ids = merkle.root_node_ids(size)
        stored = read_nodes(connection, ids)
        if len(stored) != len(ids):
            raise AuditIntegrityError(
                f"the tree's edge nodes for size {size} are missing; run `onceonly audit verify`"
            )
        builder = merkle.TreeBuilder(size, [stored[node] for node in ids])
        if builder.root() != root:
            raise AuditIntegrityError(
                f"the stored tree of size {size} does not give the head's root; "
                "run `onceonly audit verify`"
            )
        return builder

    def close(self) -> None:
        """Let the appends under way finish, then release the connection; appends after this
        are refused."""
        with self._lock:
            self._closed = True
            while self._writing:
                self._idle.wait()
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- reading ------------------------------------------------------------------------------

    def head(self) -> tuple[int, bytes]:
        """The committed tree size and root."""
        with self.engine.connect() as connection:
            return read_head(connection)

    def entry(self, index: int) -> StoredEntry:
        """Entry ``index`` as stored, with the leaf hash the tree holds for it."""
        with self.engine.connect() as connection:
            leaf = connection.execute(
                select(AuditEntry.leaf).where(AuditEntry.seq == index)
            ).scalar_one_or_none()
            if leaf is None:
                raise ProofError(f"the audit log has no entry {index}")
            tree = read_nodes(connection, [merkle.node_id(0, index)]).get(merkle.node_id(0, index))
        return StoredEntry(index, leaf, tree)

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> InclusionProof:
        """The proof that entry ``index`` is in the tree of ``tree_size`` (default: now) leaves."""
        with self.engine.connect() as connection:
            size = self._size(connection, tree_size)
            if not 0 <= index < size:
                raise ProofError(f"entry {index} is not in the tree of {size} entries")
            ranges = merkle.inclusion_ranges(index, size)
            wanted = merkle.proof_node_ids([*ranges, (index, index + 1), (0, size)])
            node = self._source(read_nodes(connection, wanted))
        return InclusionProof(
            index,
            size,
            node(0, index),
            tuple(merkle.inclusion_proof(index, size, node)),
            merkle.range_hash(0, size, node),
        )

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """The proof that the tree of ``new_size`` (default: now) extends that of ``old_size``."""
        with self.engine.connect() as connection:
            size = self._size(connection, new_size)
            if not 0 < old_size <= size:
                raise ProofError(f"no consistency proof from {old_size} to {size} entries")
            ranges = merkle.consistency_ranges(old_size, size)
            wanted = merkle.proof_node_ids([*ranges, (0, old_size), (0, size)])
            node = self._source(read_nodes(connection, wanted))
        return ConsistencyProof(
            old_size,
            size,
            merkle.range_hash(0, old_size, node),
            merkle.range_hash(0, size, node),
            tuple(merkle.consistency_proof(old_size, size, node)),
        )

    @staticmethod
    def _size(connection: Connection, tree_size: int | None) -> int:
        current, _ = read_head(connection)
        if tree_size is None:
            return current
        if not 0 < tree_size <= current:
            raise ProofError(f"tree size {tree_size} is not between 1 and the log's {current}")
        return tree_size

    @staticmethod
    def _source(nodes: dict[int, bytes]) -> merkle.NodeSource:
        def node(level: int, index: int) -> bytes:
            try:
                return nodes[merkle.node_id(level, index)]
            except KeyError:
                raise AuditIntegrityError(
                    f"tree node ({level}, {index}) is missing; run `onceonly audit verify`"
                ) from None

        return node

    # --- checkpoints --------------------------------------------------------------------------

    def checkpoint(self, signer: Signer) -> Checkpoint:
        """Sign the current head, keep it in the store and append it to the witness file."""
        with self.engine.begin() as connection:
            size, root = read_head(connection)
            signed = sign_checkpoint(self.origin, size, root, self._clock(), signer)
            connection.execute(
                insert(AuditCheckpoint).values(
                    tree_size=signed.size,
                    root=signed.root,
                    signed_at=signed.time,
                    key_id=signed.key_id,
                    note=signed.note,
                )
            )
        if self.witness is not None:
            append_witness(self.witness, signed)
        return signed

    def latest_checkpoint(self) -> Checkpoint | None:
        """The newest checkpoint in the store, as stored (`verify_log` checks its signature)."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)
            ).first()
        return None if row is None else read_checkpoint(row.note)
