"""Checkpoints as C2SP signed notes: the Go reference vector, round trips, every bad note named."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exchange.audit.checkpoint import (
    CheckpointError,
    CheckpointSignatureError,
    Ed25519Signer,
    append_witness,
    checkpoint_text,
    open_checkpoint,
    open_note,
    read_checkpoint,
    read_witness,
    sign_checkpoint,
    sign_note,
    verifier_key,
)

# golang.org/x/mod/sumdb/note note_test.go: the PeterNeumann key and its signed note
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSN"
    "XgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ROOT = hashlib.sha256(b"root").digest()
TIME = datetime(2026, 11, 22, 6, 0, 0, 123456, tzinfo=UTC)


def _go_signer() -> Ed25519Signer:
    seed = base64.b64decode(GO_SKEY.split("+", 4)[4])
    assert seed[0] == 1  # the Ed25519 type byte
    return Ed25519Signer("PeterNeumann", Ed25519PrivateKey.from_private_bytes(seed[1:]))


@pytest.fixture
def signer() -> Ed25519Signer:
    return Ed25519Signer("onceonly-exchange", Ed25519PrivateKey.generate())


def test_reproduces_the_go_reference_note_byte_for_byte() -> None:
    go = _go_signer()
    assert verifier_key("PeterNeumann", go.public_key) == GO_VKEY
    assert sign_note(GO_TEXT, go) == GO_NOTE  # Ed25519 is deterministic (RFC 8032)
    assert open_note(GO_NOTE, {"PeterNeumann": go.public_key}) == (GO_TEXT, "PeterNeumann")


def test_checkpoint_round_trip_and_format(signer: Ed25519Signer) -> None:
    signed = sign_checkpoint("onceonly.exchange/audit", 42, ROOT, TIME, signer)
    body = checkpoint_text("onceonly.exchange/audit", 42, ROOT, TIME)
    assert body == (
        f"onceonly.exchange/audit\n42\n{base64.b64encode(ROOT).decode()}\n"
        "time 2026-11-22T06:00:00.123456Z\n"
    )
    assert signed.note.startswith(body + "\n— onceonly-exchange ")
    opened = open_checkpoint(signed.note, {"onceonly-exchange": signer.public_key})
    assert (opened.size, opened.root, opened.time, opened.key_id) == (42, ROOT, TIME, signer.key_id)
    assert read_checkpoint(signed.note) == opened


def test_a_changed_byte_or_another_key_is_refused(signer: Ed25519Signer) -> None:
    note = sign_checkpoint("log", 42, ROOT, TIME, signer).note
    keys = {"onceonly-exchange": signer.public_key}
    with pytest.raises(CheckpointSignatureError, match="does not verify"):
        open_checkpoint(note.replace("\n42\n", "\n43\n"), keys)
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(CheckpointSignatureError, match="no known key"):
        open_checkpoint(note, {"onceonly-exchange": other})  # key hash differs: not its key
    with pytest.raises(CheckpointSignatureError, match="signed by onceonly-exchange"):
        open_checkpoint(note, {})


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda n: n.replace("\n\n", "\n"), "no blank line"),
        (lambda n: n.replace("— ", "-- "), "malformed signature line"),
        (lambda n: n.replace("\n42\n", "\n042\n"), "not a decimal number"),
        (lambda n: n.replace("\ntime ", "\nwhen "), "no single 'time' line"),
        (lambda n: "\t" + n, "control character"),
        (lambda n: n[: n.rindex(" ") + 1] + "!!!\n", "not base64"),
    ],
)
def test_malformed_notes_are_named(signer: Ed25519Signer, mangle, message: str) -> None:
    note = sign_checkpoint("log", 42, ROOT, TIME, signer).note
    with pytest.raises(CheckpointError, match=message):
        open_checkpoint(mangle(note), {"onceonly-exchange": signer.public_key})


def test_key_names_with_spaces_or_plus_cannot_sign() -> None:
    key = Ed25519PrivateKey.generate()
    for name in ("", "two words", "a+b"):
        with pytest.raises(CheckpointError, match="cannot sign a note"):
            sign_checkpoint("log", 1, ROOT, TIME, Ed25519Signer(name, key))


def test_witness_file_keeps_every_checkpoint(tmp_path: Path, signer: Ed25519Signer) -> None:
    path = tmp_path / "audit" / "witness.log"
    assert read_witness(path) == []
    first = sign_checkpoint("log", 1, ROOT, TIME, signer)
    second = sign_checkpoint("log", 2, ROOT, TIME, signer)
    append_witness(path, first)
    append_witness(path, second)
    assert read_witness(path) == [(1, first.note), (2, second.note)]
    path.write_text(path.read_text() + "not json\n")
    with pytest.raises(CheckpointError, match=r"witness\.log:3 is not a witness record"):
        read_witness(path)
