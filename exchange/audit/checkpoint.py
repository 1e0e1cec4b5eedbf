"""Signed checkpoints: the C2SP tlog-checkpoint format in a C2SP signed note, Ed25519.

A checkpoint commits the log to a tree size and root hash at a time. Its text is the C2SP
``tlog-checkpoint`` body (https://c2sp.org/tlog-checkpoint)::

    onceonly.exchange/audit          <- origin: names the log
    1048576                          <- tree size, decimal
    b64(root hash)                   <- RFC 4648 base64 of the 32-byte RFC 9162 root
    time 2026-11-22T06:24:23.344956Z <- extension line: when it was signed (UTC)

and it is signed as a C2SP ``signed-note`` (https://c2sp.org/signed-note): the text, a blank
line, then ``— <key name> <base64(key hash || signature)>``, the signature being Ed25519 over
the text (final newline included, blank line excluded) and the key hash the first four bytes of
``SHA-256(key name || 0x0A || 0x01 || public key)``. Standard tools (transparency-dev's
``note`` and ``tlog`` packages, witnesses) read it as is; `verifier_key` gives the
``name+hash+key`` string such tools take. The signing key is the exchange's, handed over as any
object with ``key_id``, ``public_key`` and ``sign`` (`Signer`); its ``key_id`` is the note's key
name, so it must contain no white space and no ``+``.

The time is an extension line rather than a separate field so that the signature covers it.

**Witness.** A store can be restored from an older copy, and nothing inside it can tell: the
older copy is a perfectly consistent shorter log. So every checkpoint is also appended to a
witness file kept outside the database (`append_witness`, one JSON object per line, written
with ``fsync``), and verification compares the store with the newest checkpoint witnessed
there. The file holds only signed notes: editing it does not help an attacker without the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from exchange.audit.events import format_time, parse_time
from exchange.audit.merkle import HASH_SIZE

#: The origin line of this exchange's checkpoints unless the caller names another.
DEFAULT_ORIGIN = "onceonly.exchange/audit"
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
ED25519 = b"\x01"  # the signed-note signature type of Ed25519
_TIME = "time "
_SIZE = re.compile(r"(0|[1-9][0-9]{0,19})")
_NAME = re.compile(r"[^\s+]+")


class CheckpointError(ValueError):
    """A checkpoint that is malformed or whose signature does not verify; says which."""


class CheckpointSignatureError(CheckpointError):
    """A well-formed note without a valid signature by a known key."""


class Signer(Protocol):
    """What signs checkpoints: the exchange's Ed25519 key (e.g. `licences.keys.Signer`)."""

    @property
    def key_id(self) -> str: ...

    @property
    def public_key(self) -> Ed25519PublicKey: ...

    def sign(self, message: bytes) -> bytes: ...


@dataclass(frozen=True)
class Ed25519Signer:
    """A bare Ed25519 key as a `Signer` (tests, benchmarks, tools)."""

    key_id: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)


@dataclass(frozen=True)
class Checkpoint:
    """A signed checkpoint and the signed note it was read from or written as."""

    origin: str
    size: int
    root: bytes
    time: datetime
    key_id: str
    note: str


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise CheckpointError(
            f"key name {name!r} cannot sign a note: it must be non-empty, without spaces or '+'"
        )


def key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The signed-note key hash: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + _raw(public_key)).digest()[:4]


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """``name+hex(key hash)+base64(0x01 || key)``: the verifier key string of C2SP signed-note."""
    _check_name(name)
    encoded = base64.b64encode(ED25519 + _raw(public_key)).decode()
    return f"{name}+{key_hash(name, public_key).hex()}+{encoded}"


def checkpoint_text(origin: str, size: int, root: bytes, time: datetime) -> str:
    """The tlog-checkpoint body, time as an extension line."""
    if not origin or "\n" in origin or origin != origin.strip():
        raise CheckpointError(f"origin {origin!r} must be one non-empty line")
    if len(root) != HASH_SIZE:
        raise CheckpointError(f"a root hash has {HASH_SIZE} bytes, not {len(root)}")
    encoded = base64.b64encode(root).decode()
    return f"{origin}\n{size}\n{encoded}\n{_TIME}{format_time(time)}\n"


def sign_note(text: str, signer: Signer) -> str:
    """``text`` as a C2SP signed note with one Ed25519 signature by ``signer``."""
    _check_name(signer.key_id)
    if not text.endswith("\n") or "\n\n" in text:
        raise CheckpointError("a note's text ends in a newline and has no blank line")
    signature = signer.sign(text.encode())
    blob = base64.b64encode(key_hash(signer.key_id, signer.public_key) + signature).decode()
    return f"{text}\n{SIGNATURE_PREFIX}{signer.key_id} {blob}\n"


def open_note(note: str, public_keys: Mapping[str, Ed25519PublicKey]) -> tuple[str, str]:
    """The text of a signed note and the name of the known key whose signature verifies.

    The first signature by a known key (name and key hash) decides: a failure rejects the
    note, as C2SP signed-note requires. Raises `CheckpointError` naming the problem.
    """
    text, signatures = _split_note(note)
    for name, blob in signatures:
        public_key = public_keys.get(name)
        if public_key is None or blob[:4] != key_hash(name, public_key):
            continue
        try:
            public_key.verify(blob[4:], text.encode())
        except InvalidSignature:
            raise CheckpointSignatureError(f"the signature by {name} does not verify") from None
        return text, name
    names = ", ".join(sorted(name for name, _ in signatures)) or "nobody"
    raise CheckpointSignatureError(f"the note is signed by no known key (signed by {names})")


def sign_checkpoint(
    origin: str, size: int, root: bytes, time: datetime, signer: Signer
) -> Checkpoint:
    """Sign the checkpoint ``(size, root, time)`` of log ``origin`` as a signed note."""
    note = sign_note(checkpoint_text(origin, size, root, time), signer)
    return Checkpoint(origin, size, root, parse_time(format_time(time)), signer.key_id, note)


def _split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    if any(ord(char) < 0x20 and char != "\n" for char in note):
        raise CheckpointError("a signed note contains no control character but newline")
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise CheckpointError("not a signed note: no blank line before the signatures")
    text, lines = note[: cut + 1], note[cut + 2 : -1].split("\n")
    signatures = []
    for line in lines:
        name, _, blob = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
        if not line.startswith(SIGNATURE_PREFIX) or not _NAME.fullmatch(name) or " " in blob:
            raise CheckpointError(f"malformed signature line {line!r}")
        try:
            signatures.append((name, base64.b64decode(blob, validate=True)))
        except binascii.Error:
            raise CheckpointError(f"signature line {line!r} is not base64") from None
    return text, signatures


def _parse_text(text: str) -> tuple[str, int, bytes, datetime]:
    lines = text.split("\n")[:-1]
    if len(lines) < 3:
        raise CheckpointError("a checkpoint has an origin, a tree size and a root hash line")
    origin, size, encoded, *extensions = lines
    if not origin:
        raise CheckpointError("the checkpoint's origin line is empty")
    if not _SIZE.fullmatch(size):
        raise CheckpointError(f"tree size {size!r} is not a decimal number")
    try:
        root = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise CheckpointError(f"root hash {encoded!r} is not base64") from None
    if len(root) != HASH_SIZE:
        raise CheckpointError(f"the root hash has {len(root)} bytes, not {HASH_SIZE}")
    times = [line.removeprefix(_TIME) for line in extensions if line.startswith(_TIME)]
    if len(times) != 1:
        raise CheckpointError("the checkpoint has no single 'time' line")
    try:
        time = parse_time(times[0])
    except ValueError:
        raise CheckpointError(f"checkpoint time {times[0]!r} is not a UTC time") from None
    return origin, int(size), root, time


def open_checkpoint(note: str, public_keys: Mapping[str, Ed25519PublicKey]) -> Checkpoint:
    """Verify a signed checkpoint (`open_note`) and parse it; `CheckpointError` says why not."""
    origin, size, root, time = _parse_text(_split_note(note)[0])  # malformed says so first
    _, name = open_note(note, public_keys)
    return Checkpoint(origin, size, root, time, name, note)


def read_checkpoint(note: str) -> Checkpoint:
    """Parse a signed checkpoint WITHOUT verifying it (the key id is its first signer's)."""
    text, signatures = _split_note(note)
    origin, size, root, time = _parse_text(text)
    if not signatures:
        raise CheckpointError(f"checkpoint {size} carries no signature")
    return Checkpoint(origin, size, root, time, signatures[0][0], note)


def append_witness(path: Path, checkpoint: Checkpoint) -> None:
    """Append a signed checkpoint to the witness file and flush it to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"tree_size": checkpoint.size, "note": checkpoint.note}) + "\n"
    with path.open("a", encoding="utf-8") as stream:
        stream.write(line)
        stream.flush()
        os.fsync(stream.fileno())


def read_witness(path: Path) -> list[tuple[int, str]]:
    """The witness file's ``(line number, signed note)`` pairs; a missing file is empty.

    A line that is not a witness record raises `CheckpointError` naming the line.
    """
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            note = json.loads(line)["note"]
        except (ValueError, KeyError, TypeError):
            raise CheckpointError(f"{path}:{number} is not a witness record") from None
        if not isinstance(note, str):
            raise CheckpointError(f"{path}:{number} is not a witness record")
        records.append((number, note))
    return records
