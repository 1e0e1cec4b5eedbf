"""The audit log's tables: entries, the Merkle tree's nodes, its head and its signed checkpoints.

* `AuditEntry` (``audit_entry``): one row per event, ``seq`` = its leaf index (0, 1, 2, …).
  ``leaf`` is the leaf data exactly as hashed: the RFC 8785 canonical JSON of the entry's fields
  (its own index included), so any edited byte changes the leaf hash. ``recorded_at``, ``kind``
  and ``subject_hash`` repeat three of those fields as columns only so that the access report
  can find a subject's entries through an index; `exchange.audit.verify` checks they still equal
  the leaf's values, so editing a column is caught like editing the leaf.
* `AuditNode` (``audit_node``): the hash of every *complete* subtree of the tree, leaves
  included (RFC 9162 §2.1.1). A complete subtree never changes once its last leaf is appended,
  so any proof, for the current or an older tree size, is assembled from O(log n) of these rows
  (`exchange.audit.merkle`). The key is the node's in-order position — ``2i`` for leaf ``i``,
  ``i·2^(L+1) + 2^L − 1`` for the ``i``-th node of level ``L`` — one integer, so on SQLite the
  table is a plain rowid table with no second index (see `exchange.audit.merkle.node_id`). The
  leaf hashes live here, not in the entries, on purpose: the tree is the log's record of which
  leaf sits at which position, and an entry moved, removed or slipped in among the entries is
  found by comparing the two.
* `AuditHead` (``audit_head``): one row, the current tree size and root hash. Every append
  starts by updating it (``UPDATE … RETURNING``), which takes PostgreSQL's row lock or SQLite's
  write lock, so appenders in any number of processes are serialised on it.
* `AuditCheckpoint` (``audit_checkpoint``): every signed checkpoint, the C2SP signed note
  exactly as signed (`exchange.audit.checkpoint`).

Integer keys are ``BIGINT`` on PostgreSQL (10^7 entries make 2·10^7 nodes, and logs only grow)
and ``INTEGER`` on SQLite, where only that exact type makes the key the table's rowid.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from exchange.store.base import Base, utcnow

#: A 64-bit integer key that SQLite stores as the rowid.
RowId = BigInteger().with_variant(Integer(), "sqlite")

#: The single row of `AuditHead`.
HEAD_ID = 1


class AuditEntry(Base):
    """One event of the log, at leaf index ``seq``."""

    __tablename__ = "audit_entry"

    seq: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=False)
    recorded_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    subject_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    leaf: Mapped[str] = mapped_column(Text)


class AuditNode(Base):
    """The hash of one complete subtree (a leaf is a subtree of one)."""

    __tablename__ = "audit_node"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditHead(Base):
    """The tree's current size and root: the row every appender locks first."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditCheckpoint(Base):
    """A signed checkpoint: tree size, root hash and time, signed by the exchange's key."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, index=True)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    signed_at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text)
