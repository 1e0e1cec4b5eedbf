"""The four roles a client of the exchange has, and the principal a request runs as.

PRODUCT.md's users: a department publishes its datasets and issues its licence types; the
acceptance platform looks subjects up and runs prechecks; an auditor reads the audit log, the
access reports and lineage; the operator manages clients, keys and the catalogue. Verifying a
licence is public and needs no client at all.

A client belongs to an ``organisation``: for a department client, the department's catalogue
code; for the others, the name of the body it serves (``acceptance_platform``, ``audit_office``).
Sharing requests are made and approved by organisations, so a new token for the same body keeps
its approvals.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    DEPARTMENT = "department"
    PLATFORM = "platform"
    AUDITOR = "auditor"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Principal:
    """The authenticated client a request runs as."""

    client: str
    role: Role
    organisation: str

    @property
    def department(self) -> str | None:
        """The department this client acts for, if it is a department's client."""
        return self.organisation if self.role is Role.DEPARTMENT else None

    @property
    def actor(self) -> str:
        """How the audit log names this client: ``client@organisation``."""
        return f"{self.client}@{self.organisation}"
