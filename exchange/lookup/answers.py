"""What the precheck says about one material, and why: outcomes, reasons and their details.

A material is answered with one of four outcomes (issue 5, PRODUCT.md "Service items"):

* ``held_licence``: an electronic licence of the applicant stands in for it, verified at the
  moment of the check (signature, issuer key, status lists, validity);
* ``held_data``: fields of a shared dataset stand in for it, and this client may see them;
* ``commitment``: nothing held serves, but a written commitment (告知承诺) is allowed;
* ``must_submit``: only the applicant can hand it over, with the reason.

Reasons, when several sources failed, are ranked by how much they tell the applicant
(`REASON_PRIORITY`): a revoked licence is the most informative answer ("your 结婚证 was
revoked"), then suspended, then expired (all three are facts about a licence the applicant
holds), then a licence that does not verify (the applicant holds one but it cannot be relied on),
then data that exists but is not shared with this client (the client could ask for a sharing
grant), then a source for the other kind of subject, and last "nothing held". The ranking is
deliberately the same for the candidates within one licence source (several licences of a type).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from licences.verification import Outcome as Verified


class Outcome(StrEnum):
    HELD_LICENCE = "held_licence"
    HELD_DATA = "held_data"
    COMMITMENT = "commitment"
    MUST_SUBMIT = "must_submit"


#: The outcomes under which the applicant no longer hands the material over.
NOT_HANDED_OVER = frozenset({Outcome.HELD_LICENCE, Outcome.HELD_DATA, Outcome.COMMITMENT})
#: The outcomes under which the exchange itself held the material (a repeated submission).
HELD = frozenset({Outcome.HELD_LICENCE, Outcome.HELD_DATA})


class Reason(StrEnum):
    """Why a source did not serve (and so why a material is a commitment or must be submitted)."""

    REVOKED = "revoked"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    NOT_VERIFIABLE = "not_verifiable"
    NOT_SHARED_WITH_CLIENT = "not_shared_with_client"
    WRONG_HOLDER_KIND = "wrong_holder_kind"
    NOTHING_HELD = "nothing_held"
    APPLICANT_ONLY = "applicant_only"  # the material has no source and allows no commitment


#: Most informative first; see the module docstring.
REASON_PRIORITY: tuple[Reason, ...] = (
    Reason.REVOKED,
    Reason.SUSPENDED,
    Reason.EXPIRED,
    Reason.NOT_VERIFIABLE,
    Reason.NOT_SHARED_WITH_CLIENT,
    Reason.WRONG_HOLDER_KIND,
    Reason.NOTHING_HELD,
)
_RANK = {reason: rank for rank, reason in enumerate(REASON_PRIORITY)}


def most_informative(reasons: list[Reason]) -> Reason:
    return min(reasons, key=_RANK.__getitem__)


def reason_of(verified: Verified) -> Reason | None:
    """The reason a licence with this verification outcome does not serve (None: it does)."""
    return {
        Verified.VALID: None,
        Verified.REVOKED: Reason.REVOKED,
        Verified.SUSPENDED: Reason.SUSPENDED,
        Verified.EXPIRED: Reason.EXPIRED,
    }.get(verified, Reason.NOT_VERIFIABLE)


@dataclass(frozen=True)
class HeldLicence:
    """The licence that stands in for a material, as verified at ``checked_at``."""

    licence_id: str
    version: int
    type_code: str
    type_name: str
    issuer: str
    valid_until: datetime | None
    verification: Verified
    checked_at: datetime
    verify_url: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "licence_id": self.licence_id,
            "version": self.version,
            "type_code": self.type_code,
            "type_name": self.type_name,
            "issuer": self.issuer,
            "valid_until": _iso(self.valid_until),
            "verification": self.verification.value,
            "checked_at": _iso(self.checked_at),
            "verify_url": self.verify_url,
        }


@dataclass(frozen=True)
class HeldData:
    """The dataset fields that stand in for a material. No values: the platform fetches them
    through the records lookup, which applies and records the sharing rules for that read."""

    dataset: str
    dataset_name: str
    department: str
    dataset_version: int  # the dataset's newest version when checked
    record_version: int  # the version the applicant's record has been current since
    record_valid_from: datetime
    fields: tuple[str, ...]
    masked: tuple[str, ...]  # of ``fields``, those the client receives masked
    service_item: str  # the item under which the client may see them

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "dataset_name": self.dataset_name,
            "department": self.department,
            "dataset_version": self.dataset_version,
            "record_version": self.record_version,
            "record_valid_from": _iso(self.record_valid_from),
            "fields": list(self.fields),
            "masked": list(self.masked),
            "service_item": self.service_item,
        }


@dataclass(frozen=True)
class Attempt:
    """One source tried for a material, and what came of it."""

    kind: str  # "licence_type" or "dataset"
    code: str
    served: bool
    reason: Reason | None = None
    #: licence ids tried and their verification outcome; for a dataset, the fields withheld
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.kind,
            "code": self.code,
            "served": self.served,
            "reason": None if self.reason is None else self.reason.value,
            **({"detail": self.detail} if self.detail else {}),
        }


@dataclass(frozen=True)
class MaterialAnswer:
    code: str
    name: str
    items: tuple[str, ...]  # the service items that need it
    outcome: Outcome
    reason: Reason | None  # why no source served; None when one did, or there is none to try
    licence: HeldLicence | None = None
    data: HeldData | None = None
    attempts: tuple[Attempt, ...] = ()

    @property
    def held(self) -> bool:
        """The exchange holds it: handing it over again is a repeated submission."""
        return self.outcome in HELD

    def as_dict(self) -> dict[str, Any]:
        return {
            "material": self.code,
            "name": self.name,
            "service_items": list(self.items),
            "outcome": self.outcome.value,
            "reason": None if self.reason is None else self.reason.value,
            "licence": None if self.licence is None else self.licence.as_dict(),
            "data": None if self.data is None else self.data.as_dict(),
            "attempts": [attempt.as_dict() for attempt in self.attempts],
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
