"""The tables behind access control: clients, sharing requests and repeated-submission reports.

* `Client` (``exchange_client``): one bearer token of one client. Only the token's SHA-256 is
  stored: a token is 256 random bits, so a fast hash is enough to make a stolen table useless
  (there is nothing to guess), and it lets every request be checked with one indexed read.
  ``token_prefix`` (the first characters, not secret) lets an operator tell tokens apart.
* `SharingRequest` (``exchange_sharing_request``): an organisation asks the department that
  provides a dataset for conditional (有条件共享) or sensitive fields, for a purpose and until a
  date, optionally only for some service items; the provider approves or refuses it.
* `Submission` (``exchange_submission``): the acceptance platform reports a material an
  applicant handed over; ``held`` says whether the exchange already held it at that moment, and
  such a report is a repeated-submission flag against the department whose item asked for it.
  The applicant is kept as the audit log's keyed hash, never as the identifier.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from exchange.store.base import Base, utcnow


class Client(Base):
    __tablename__ = "exchange_client"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    organisation: Mapped[str] = mapped_column(String(63))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revocation_reason: Mapped[str | None] = mapped_column(Text, default=None)


class SharingStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"


class SharingRequest(Base):
    __tablename__ = "exchange_sharing_request"
    __table_args__ = (Index("ix_exchange_sharing_request_requester", "requester", "dataset"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    requester: Mapped[str] = mapped_column(String(63))
    dataset: Mapped[str] = mapped_column(String(63))
    provider: Mapped[str] = mapped_column(String(63), index=True)
    fields: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(Text)
    #: The service items the data may be used for; empty: any item of the requester's.
    service_items: Mapped[list[str]] = mapped_column(JSON, default=list)
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=SharingStatus.REQUESTED.value)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(200), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    decision_reason: Mapped[str | None] = mapped_column(Text, default=None)


class Submission(Base):
    __tablename__ = "exchange_submission"
    __table_args__ = (Index("ix_exchange_submission_department", "department", "flagged"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    client: Mapped[str] = mapped_column(String(63))
    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    service_item: Mapped[str] = mapped_column(String(40))
    department: Mapped[str] = mapped_column(String(63))
    material: Mapped[str] = mapped_column(String(63))
    #: The precheck outcome for this material at the moment of the report.
    outcome: Mapped[str] = mapped_column(String(16))
    #: The exchange held it (a licence or data): handing it over again is a repeated submission.
    flagged: Mapped[bool] = mapped_column(default=False)
    audit_index: Mapped[int | None] = mapped_column(default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
