"""The tamper-evident audit log: an RFC 9162 Merkle tree over every event, signed checkpoints.

* `events`: what is recorded (`AuditEvent`, `AuditKind`) and its leaf data (RFC 8785 JSON, the
  subject as a keyed hash);
* `merkle`: the RFC 9162 algorithms, pure (hashes, proofs from complete subtrees, verification);
* `log`: `AuditLog`, durable appends with group commit, proofs from the store, checkpoints;
* `checkpoint`: C2SP tlog-checkpoint signed notes (Ed25519) and the witness file;
* `verify`: `verify_log`, the full check that names the first bad entry;
* `access`: `access_report`, who accessed a subject's data;
* `models`: the tables.
"""

from exchange.audit.access import AccessEntry, access_report
from exchange.audit.checkpoint import (
    DEFAULT_ORIGIN,
    Checkpoint,
    CheckpointError,
    Ed25519Signer,
    Signer,
    open_checkpoint,
    verifier_key,
)
from exchange.audit.events import ACCESS_KINDS, AuditEvent, AuditEventError, AuditKind
from exchange.audit.log import (
    AuditIntegrityError,
    AuditLog,
    ConsistencyProof,
    InclusionProof,
    ProofError,
    Receipt,
)
from exchange.audit.verify import Problem, ProblemKind, VerifyReport, verify_log

__all__ = [
    "ACCESS_KINDS",
    "DEFAULT_ORIGIN",
    "AccessEntry",
    "AuditEvent",
    "AuditEventError",
    "AuditIntegrityError",
    "AuditKind",
    "AuditLog",
    "Checkpoint",
    "CheckpointError",
    "ConsistencyProof",
    "Ed25519Signer",
    "InclusionProof",
    "Problem",
    "ProblemKind",
    "ProofError",
    "Receipt",
    "Signer",
    "VerifyReport",
    "access_report",
    "open_checkpoint",
    "verifier_key",
    "verify_log",
]
