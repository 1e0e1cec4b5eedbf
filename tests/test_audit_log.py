"""The audit log in the store, on SQLite and PostgreSQL: appends, proofs, checkpoints, report.

Roots and proofs are checked against the naive RFC 9162 recursion of `test_audit_merkle`, run
over the leaf data as stored.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, select, text
from test_audit_merkle import mth, path, subproof

from exchange.audit import (
    AuditEvent,
    AuditEventError,
    AuditIntegrityError,
    AuditKind,
    AuditLog,
    Ed25519Signer,
    ProofError,
    access_report,
    open_checkpoint,
    verify_log,
)
from exchange.audit.models import AuditEntry

SECRET = b"test secret"
SUBJECT = "11010519491231002X"
OTHER = "110101200001011234"


def _lookup(number: int, subject: str = SUBJECT, purpose: str = "apply") -> AuditEvent:
    return AuditEvent(
        AuditKind.LOOKUP,
        actor=f"platform-{number % 3}",
        role="acceptance_platform",
        purpose=purpose,
        service_item=f"item-{number}",
        subject=subject,
        details={"dataset": "household_registration", "found": number % 2 == 0},
    )


def _leaves(store: Engine) -> list[bytes]:
    with store.connect() as connection:
        rows = connection.execute(select(AuditEntry.leaf).order_by(AuditEntry.seq)).scalars()
        return [leaf.encode() for leaf in rows]


@pytest.fixture
def signer() -> Ed25519Signer:
    return Ed25519Signer("onceonly-exchange", Ed25519PrivateKey.generate())


@pytest.fixture
def log(store: Engine, tmp_path: Path):
    with AuditLog(store, subject_secret=SECRET, witness=tmp_path / "witness.log") as audit:
        yield audit


def test_record_returns_once_committed_at_consecutive_indexes(log: AuditLog, store) -> None:
    receipts = [log.record(_lookup(i)) for i in range(5)]
    receipts += log.record_many([_lookup(i) for i in range(5, 12)])
    assert [r.index for r in receipts] == list(range(12))
    leaves = _leaves(store)
    assert len(leaves) == 12
    assert log.head() == (12, mth(leaves))
    assert SUBJECT.encode() not in b"".join(leaves)  # only the keyed hash is stored


def test_concurrent_callers_are_batched_and_lose_nothing(log: AuditLog, store) -> None:
    receipts = []
    lock = threading.Lock()

    def caller(worker: int) -> None:
        for i in range(40):
            receipt = log.record(_lookup(worker * 100 + i))
            with lock:
                receipts.append(receipt)

    threads = [threading.Thread(target=caller, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.index for r in receipts) == list(range(320))
    assert log.head() == (320, mth(_leaves(store)))
    assert verify_log(store, public_keys={}).ok


def test_two_logs_on_one_store_interleave_like_two_processes(store: Engine, log: AuditLog) -> None:
    with AuditLog(store, subject_secret=SECRET) as other:
        for i in range(10):
            (log if i % 3 else other).record(_lookup(i))
        other.record_many([_lookup(i) for i in range(5)])
    log.record(_lookup(99))
    assert log.head() == (16, mth(_leaves(store)))
    assert verify_log(store, public_keys={}).ok


def test_two_logs_writing_at_once_take_turns_without_losing_an_entry(
    store: Engine, log: AuditLog
) -> None:
    # Each log writes from its edge in memory; whenever the other one appended meanwhile, the
    # indexes are taken (or the head moved) and the batch is written again under the head lock.
    receipts = []
    lock = threading.Lock()
    with AuditLog(store, subject_secret=SECRET) as other:

        def caller(audit: AuditLog, worker: int) -> None:
            for i in range(25):
                receipt = audit.record(_lookup(worker * 100 + i))
                with lock:
                    receipts.append(receipt)

        threads = [
            threading.Thread(target=caller, args=(log if w % 2 else other, w)) for w in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(r.index for r in receipts) == list(range(200))
    assert log.head() == (200, mth(_leaves(store)))
    assert verify_log(store, public_keys={}).ok


def test_a_head_changed_behind_the_writers_back_stops_the_log(log: AuditLog, store) -> None:
    log.record_many([_lookup(i) for i in range(3)])  # the writer now knows the edge
    with store.begin() as connection:
        connection.execute(text("UPDATE audit_head SET root = :r"), {"r": b"\1" * 32})
    with pytest.raises(AuditIntegrityError, match="does not give the head's root"):
        log.record(_lookup(3))
    assert len(_leaves(store)) == 3  # the refused entry was rolled back


def test_append_inside_the_callers_transaction(store: Engine, log: AuditLog) -> None:
    log.record(_lookup(0))
    with store.connect() as connection:
        log.append(connection, [_lookup(1), _lookup(2)])
        connection.rollback()  # the caller's work failed: its audit entries go with it
    assert log.head()[0] == 1
    with store.begin() as connection:
        receipts = log.append(connection, [_lookup(1), _lookup(2)])
    assert [r.index for r in receipts] == [1, 2]
    log.record(_lookup(3))  # the writer notices the head moved and resumes from the store
    assert log.head() == (4, mth(_leaves(store)))


def test_a_refused_event_never_reaches_the_writer(log: AuditLog) -> None:
    leaky = AuditEvent(AuditKind.LOOKUP, "a", "r", subject=SUBJECT, details={"id": SUBJECT})
    with pytest.raises(AuditEventError, match="subject's identifier"):
        log.record(leaky)
    assert log.record(_lookup(0)).index == 0


def test_proofs_equal_the_rfc_definitions_for_every_index_and_size(log: AuditLog, store) -> None:
    log.record_many([_lookup(i) for i in range(21)])
    leaves = _leaves(store)
    for size in (1, 2, 7, 8, 13, 21):
        for index in range(size):
            proof = log.inclusion_proof(index, size)
            assert list(proof.path) == path(index, leaves[:size])
            assert proof.root == mth(leaves[:size])
            assert proof.verify()
        for old in range(1, size + 1):
            consistency = log.consistency_proof(old, size)
            assert list(consistency.path) == subproof(old, leaves[:size], True)
            assert consistency.verify(mth(leaves[:old]), mth(leaves[:size]))


def test_proof_requests_outside_the_log_are_refused(log: AuditLog) -> None:
    log.record_many([_lookup(i) for i in range(3)])
    with pytest.raises(ProofError, match="entry 3 is not in the tree of 3 entries"):
        log.inclusion_proof(3)
    with pytest.raises(ProofError, match="tree size 4 is not between 1 and the log's 3"):
        log.inclusion_proof(0, 4)
    with pytest.raises(ProofError, match="no consistency proof from 0 to 3"):
        log.consistency_proof(0)
    with pytest.raises(ProofError, match="no entry 7"):
        log.entry(7)


def test_checkpoints_are_signed_kept_and_witnessed(log: AuditLog, signer, tmp_path) -> None:
    assert log.latest_checkpoint() is None
    log.record_many([_lookup(i) for i in range(9)])
    first = log.checkpoint(signer)
    log.record_many([_lookup(i) for i in range(4)])
    second = log.checkpoint(signer)
    keys = {signer.key_id: signer.public_key}
    assert open_checkpoint(second.note, keys).size == 13
    assert log.latest_checkpoint() == open_checkpoint(second.note, keys)
    assert log.consistency_proof(first.size, second.size).verify(first.root, second.root)
    assert log.inclusion_proof(4, first.size).verify(first.root)
    assert (tmp_path / "witness.log").read_text().count("\n") == 2
    report = verify_log(log.engine, public_keys=keys, witness=tmp_path / "witness.log")
    assert report.ok, report.problems
    assert (report.entries, report.checkpoints, report.witnessed) == (13, 2, 2)


def test_the_log_refuses_to_extend_a_tree_it_cannot_vouch_for(log: AuditLog, store) -> None:
    log.record_many([_lookup(i) for i in range(6)])  # edge nodes: (1, 2) and (2, 0)
    with store.begin() as connection:
        connection.execute(text("UPDATE audit_node SET hash = :h WHERE id = 3"), {"h": b"\0" * 32})
    other = AuditLog(store, subject_secret=SECRET)  # no edge in memory: reads the store
    with other, pytest.raises(AuditIntegrityError, match="does not give the head's root"):
        other.record(_lookup(6))


def test_access_report_lists_who_read_the_subject(log: AuditLog, store) -> None:
    log.record(_lookup(1))
    log.record(_lookup(2, subject=OTHER))
    log.record(AuditEvent(AuditKind.LICENCE_ISSUED, "dept-ps", "department", subject=SUBJECT))
    log.record(_lookup(3, purpose="audit"))
    report = access_report(store, subject=SUBJECT, subject_secret=SECRET)
    assert [(e.index, e.actor, e.purpose, e.service_item) for e in report] == [
        (0, "platform-1", "apply", "item-1"),
        (3, "platform-0", "audit", "item-3"),
    ]
    assert all(e.intact and e.role == "acceptance_platform" for e in report)
    every = access_report(store, subject=SUBJECT, subject_secret=SECRET, kinds=None)
    assert [e.kind for e in every] == ["lookup", "licence_issued", "lookup"]
    later = access_report(
        store, subject=SUBJECT, subject_secret=SECRET, since=report[1].time + timedelta(seconds=1)
    )
    assert later == []
    assert access_report(store, subject=SUBJECT, subject_secret=b"another secret") == []
    with store.begin() as connection:
        connection.execute(
            text("UPDATE audit_entry SET leaf = replace(leaf, 'apply', 'apple') WHERE seq = 0")
        )
    assert [e.intact for e in access_report(store, subject=SUBJECT, subject_secret=SECRET)] == [
        False,
        True,
    ]
