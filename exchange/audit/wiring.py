"""The audit log as this exchange runs it: its secret, its witness file, its signing key.

One place decides how `AuditLog` is built from the settings, so the CLI, Dagster and the API
all write the same log and check it the same way: subjects hashed with a key derived from the
exchange's secret, checkpoints signed with the exchange's own key (`licences.keys`, owner
``exchange``) and appended to ``$ONCEONLY_HOME/audit/witness.log`` outside the database.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from exchange.audit.checkpoint import Checkpoint
from exchange.audit.log import AuditLog
from exchange.audit.verify import VerifyReport, verify_log
from exchange.settings import Settings
from licences import keys
from licences.models import EXCHANGE_OWNER


def witness_path(settings: Settings) -> Path:
    return settings.home / "audit" / "witness.log"


def audit_log(settings: Settings, engine: Engine) -> AuditLog:
    witness = witness_path(settings)
    witness.parent.mkdir(parents=True, exist_ok=True)
    return AuditLog(engine, subject_secret=settings.passphrase, witness=witness)


def checkpoint(settings: Settings, engine: Engine) -> Checkpoint:
    """Sign the log's current head with the exchange's key, now."""
    with Session(engine) as session:
        signer = keys.signer(
            session, EXCHANGE_OWNER, passphrase=settings.passphrase, urls=settings.urls
        )
    with audit_log(settings, engine) as log:
        return log.checkpoint(signer)


def checkpoint_keys(engine: Engine) -> dict[str, Ed25519PublicKey]:
    """Every key the exchange ever signed with: old checkpoints stay checkable after rotation."""
    with Session(engine) as session:
        return {key.id: keys.public_key(key) for key in keys.list_keys(session, EXCHANGE_OWNER)}


def verify(settings: Settings, engine: Engine) -> VerifyReport:
    return verify_log(engine, public_keys=checkpoint_keys(engine), witness=witness_path(settings))
