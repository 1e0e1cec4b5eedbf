"""Tampering with the audit log the way an attacker with database access would, on both stores.

Each test changes the store with raw SQL (or restores an older copy of it) and checks that
`verify_log` fails, names what happened and the first entry concerned.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, delete, insert, select, text

from exchange.audit import AuditEvent, AuditKind, AuditLog, Ed25519Signer, ProblemKind, verify_log
from exchange.audit.merkle import TreeBuilder, leaf_hash, node_id
from exchange.audit.models import AuditCheckpoint, AuditEntry, AuditHead, AuditNode

SECRET = b"test secret"
SIZE = 40
SIGNER = Ed25519Signer("onceonly-exchange", Ed25519PrivateKey.generate())
KEYS = {SIGNER.key_id: SIGNER.public_key}
TABLES = (AuditEntry, AuditNode, AuditHead, AuditCheckpoint)


def _event(number: int) -> AuditEvent:
    return AuditEvent(
        AuditKind.PRECHECK,
        actor="platform",
        role="acceptance_platform",
        purpose="apply",
        service_item=f"item-{number}",
        subject=f"11010519491231{number:04d}",
        details={"materials": ["household", "birth"], "held": number % 3},
    )


def _append(store: Engine, witness: Path, first: int, count: int) -> None:
    with AuditLog(store, subject_secret=SECRET, witness=witness) as log:
        log.record_many([_event(i) for i in range(first, first + count)])
        log.checkpoint(SIGNER)


@pytest.fixture
def witness(tmp_path: Path) -> Path:
    return tmp_path / "audit" / "witness.log"


@pytest.fixture
def log_store(store: Engine, witness: Path) -> Engine:
    """A log of 40 entries with checkpoints at 20 and 40, both witnessed."""
    _append(store, witness, 0, SIZE // 2)
    _append(store, witness, SIZE // 2, SIZE // 2)
    return store


def _sql(store: Engine, *statements: str, **params: object) -> None:
    with store.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), params)


def _verify(store: Engine, witness: Path):
    return verify_log(store, public_keys=KEYS, witness=witness)


def _first(report) -> tuple[ProblemKind, int | None]:
    problem = report.problems[0]
    return problem.kind, problem.index


def test_an_untouched_log_verifies(log_store: Engine, witness: Path) -> None:
    report = _verify(log_store, witness)
    assert report.ok, report.problems
    assert (report.entries, report.tree_size, report.checkpoints, report.witnessed) == (
        40,
        40,
        2,
        2,
    )


def test_one_changed_byte_of_an_entry(log_store: Engine, witness: Path) -> None:
    _sql(
        log_store,
        "UPDATE audit_entry SET leaf = replace(leaf, 'item-17', 'item-71') WHERE seq = 17",
    )
    report = _verify(log_store, witness)
    assert not report.ok
    assert _first(report) == (ProblemKind.EDITED, 17)
    assert "entry 17 was edited" in report.problems[0].message
    assert report.first_bad_entry == 17


def test_a_changed_indexed_column(log_store: Engine, witness: Path) -> None:
    _sql(log_store, "UPDATE audit_entry SET subject_hash = :h WHERE seq = 5", h="0" * 64)
    report = _verify(log_store, witness)
    assert _first(report) == (ProblemKind.EDITED, 5)
    assert "subject_hash column" in report.problems[0].message


def test_a_deleted_entry(log_store: Engine, witness: Path) -> None:
    _sql(log_store, "DELETE FROM audit_entry WHERE seq = 12")
    report = _verify(log_store, witness)
    assert _first(report) == (ProblemKind.DELETED, 12)
    assert "entry 12 is missing" in report.problems[0].message


def test_a_deleted_entry_with_the_rest_renumbered(log_store: Engine, witness: Path) -> None:
    _sql(
        log_store,
        "DELETE FROM audit_entry WHERE seq = 12",
        "UPDATE audit_entry SET seq = seq + 1000000 WHERE seq > 12",
        "UPDATE audit_entry SET seq = seq - 1000001 WHERE seq >= 1000000",
    )
    report = _verify(log_store, witness)
    assert _first(report) == (ProblemKind.DELETED, 12)
    assert "renumbered" in report.problems[0].message


def test_the_last_entry_deleted(log_store: Engine, witness: Path) -> None:
    _sql(log_store, "DELETE FROM audit_entry WHERE seq = 39")
    assert _first(_verify(log_store, witness)) == (ProblemKind.DELETED, 39)


@pytest.mark.parametrize(("a", "b"), [(3, 30), (8, 9)])
def test_two_entries_reordered(log_store: Engine, witness: Path, a: int, b: int) -> None:
    _sql(
        log_store,
        "UPDATE audit_entry SET seq = -1 WHERE seq = :a",
        "UPDATE audit_entry SET seq = :a WHERE seq = :b",
        "UPDATE audit_entry SET seq = :b WHERE seq = -1",
        a=a,
        b=b,
    )
    report = _verify(log_store, witness)
    assert _first(report) == (ProblemKind.REORDERED, a)
    assert f"entry {a} holds entry {b}'s content" in report.problems[0].message


def _forged_row(store: Engine, seq: int, like: int) -> dict:
    with store.connect() as connection:
        row = connection.execute(select(AuditEntry).where(AuditEntry.seq == like)).one()
    return {
        "seq": seq,
        "recorded_at": row.recorded_at,
        "kind": row.kind,
        "subject_hash": row.subject_hash,
        "leaf": row.leaf.replace(f'"index":{like},', f'"index":{seq},'),
    }


def test_an_entry_inserted_at_the_end(log_store: Engine, witness: Path) -> None:
    forged = _forged_row(log_store, SIZE, 7)
    with log_store.begin() as connection:
        connection.execute(insert(AuditEntry), [forged])
    report = _verify(log_store, witness)
    assert _first(report) == (ProblemKind.INSERTED, SIZE)
    assert "inserted outside the log" in report.problems[0].message


def test_an_entry_inserted_in_the_middle(log_store: Engine, witness: Path) -> None:
    forged = _forged_row(log_store, 10, 25)
    _sql(
        log_store,
        "UPDATE audit_entry SET seq = seq + 1000000 WHERE seq >= 10",
        "UPDATE audit_entry SET seq = seq - 999999 WHERE seq >= 1000000",
    )
    with log_store.begin() as connection:
        connection.execute(insert(AuditEntry), [forged])
    report = _verify(log_store, witness)
    assert _first(report) == (ProblemKind.INSERTED, 10)


def _snapshot(store: Engine) -> dict:
    with store.connect() as connection:
        return {
            model: [dict(row._mapping) for row in connection.execute(select(model.__table__))]
            for model in TABLES
        }


def _restore(store: Engine, snapshot: dict) -> None:
    with store.begin() as connection:
        for model in TABLES:
            connection.execute(delete(model))
            if snapshot[model]:
                connection.execute(insert(model), snapshot[model])


def test_the_store_restored_from_an_older_copy(log_store: Engine, witness: Path) -> None:
    if log_store.dialect.name == "sqlite":  # the file itself, as a backup restore would
        database = Path(log_store.url.database)
        log_store.dispose()  # the last connection checkpoints the WAL into the file
        backup = database.with_suffix(".backup")
        shutil.copy(database, backup)
        _append(log_store, witness, SIZE, 10)
        log_store.dispose()
        shutil.copy(backup, database)
    else:  # every audit row as it was, put back
        older = _snapshot(log_store)
        _append(log_store, witness, SIZE, 10)
        _restore(log_store, older)
    report = _verify(log_store, witness)
    assert not report.ok
    assert _first(report) == (ProblemKind.ROLLED_BACK, SIZE)
    assert "rolled back to an older copy" in report.problems[0].message
    assert f"entries {SIZE}-{SIZE + 9} are gone" in report.problems[0].message
    assert verify_log(log_store, public_keys=KEYS).ok  # without the witness, nothing can tell


def test_a_lost_witness_is_reported(log_store: Engine, witness: Path) -> None:
    witness.unlink()
    report = _verify(log_store, witness)
    assert [p.kind for p in report.problems] == [ProblemKind.WITNESS_MISSING]


def test_a_forged_checkpoint_signature(log_store: Engine, witness: Path) -> None:
    _sql(log_store, "UPDATE audit_checkpoint SET note = replace(note, 'time 20', 'time 19')")
    report = _verify(log_store, witness)
    assert {p.kind for p in report.problems} == {ProblemKind.BAD_CHECKPOINT_SIGNATURE}
    assert "checkpoint #1 in the store" in report.problems[0].message


def test_an_edited_tree_node(log_store: Engine, witness: Path) -> None:
    _sql(log_store, "UPDATE audit_node SET hash = :h WHERE id = 9", h=b"\1" * 32)
    report = _verify(log_store, witness)
    assert _first(report) == (ProblemKind.TREE_EDITED, 4)  # node 9 is level 1 over entries 4-5


def test_a_log_rewritten_consistently_is_caught_by_the_signed_checkpoints(
    log_store: Engine, witness: Path
) -> None:
    """The attacker edits entry 3 and recomputes its leaf, every node above it and the head."""
    rows = sorted(_snapshot(log_store)[AuditEntry], key=lambda row: row["seq"])
    rows[3]["leaf"] = rows[3]["leaf"].replace("item-3", "item-X")
    builder, nodes = TreeBuilder(), []
    for row in rows:
        completed = builder.append(leaf_hash(row["leaf"].encode()))
        nodes += [{"id": node_id(level, index), "hash": value} for level, index, value in completed]
    with log_store.begin() as connection:
        connection.execute(delete(AuditEntry))
        connection.execute(delete(AuditNode))
        connection.execute(insert(AuditEntry), rows)
        connection.execute(insert(AuditNode), nodes)
    _sql(log_store, "UPDATE audit_head SET root = :r", r=builder.root())
    report = _verify(log_store, witness)
    kinds = {problem.kind for problem in report.problems}
    assert kinds == {ProblemKind.CHECKPOINT_MISMATCH, ProblemKind.DIVERGED}
    assert "entries before 20 were rewritten" in report.problems[0].message
