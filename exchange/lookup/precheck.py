"""The precheck: for an applicant and a plan, material by material, what the exchange holds.

For each material of the plan's merged list, in catalogue order, its sources are tried in the
order the catalogue prefers them, and the first that serves answers:

* a **licence type**: the applicant's licences of that type (the newest version of each), each
  verified at this moment by `licences.verification.verify_stored` (signature, issuer key,
  status lists) and against ``now`` for expiry; the first that is valid serves;
* a **dataset**: the applicant's current record, if the sharing rules
  (`exchange.access.policy.decide_fields`) let this client see every field the catalogue lists
  for the material, under at least one of the service items that need it.

A source of the other kind of subject (a person's licence asked of a company) gives
``wrong_holder_kind`` without a query. When no source serves, the material is a ``commitment``
if the catalogue allows one, else ``must_submit``; either way with the most informative reason
(`exchange.lookup.answers.REASON_PRIORITY`). A material with no sources is ``commitment`` (no
reason: nothing to try) or ``must_submit`` with ``applicant_only``.

The applicant's kind comes from the identifier, not from the plan: a company asking for a
person's item gets ``wrong_holder_kind`` on every source rather than a refusal, since the
issue names it as a reason an applicant must hand a material over.

Cost: three indexed queries for the whole plan (the applicant's licences of every type the
plan could use, the applicant's current records in every dataset it could use, those datasets'
newest versions), then, per licence tried, two more (its issuer key's row; its bits in both
status lists, without the lists' signed credentials) and the signature check. Neither is kept
between verifications, so a key or licence revoked a moment ago fails at once.
No record content is read: the answer names fields, never values.

Totals: ``no_longer_handed_over`` counts ``held_licence + held_data + commitment``. A commitment
is a promise the applicant writes into the application form, not a document fetched, copied and
handed over, which is what the reform counts as spared (告知承诺制 is one of the ways a material
is "免提交"); the separate counts let a report leave commitments out if it prefers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from catalog.bundles import BundlePlan, MergedMaterial
from catalog.schema import Catalogue, Dataset, MaterialSource, ServiceItem, SubjectKind
from exchange.access.policy import FieldAccess, FieldDecision, Grant, decide_fields
from exchange.errors import InvalidRequest
from exchange.identifiers import resident
from exchange.identifiers.subjects import mask_subject, validate_subject
from exchange.ingest.history import as_utc
from exchange.lookup.answers import (
    NOT_HANDED_OVER,
    Attempt,
    HeldData,
    HeldLicence,
    MaterialAnswer,
    Outcome,
    Reason,
    most_informative,
    reason_of,
)
from exchange.lookup.held import CurrentRecord, current_records, head_versions, newest_licences
from exchange.store.base import utcnow
from licences.models import LicenceVersion
from licences.urls import PublicUrls
from licences.verification import Outcome as Verified
from licences.verification import Verification, verify_stored


def applicant_kind(applicant: str) -> tuple[str, SubjectKind]:
    """The normalised identifier and the kind of subject it names. An invalid identifier
    raises the identifiers module's ValueError, which never echoes it."""
    normalised = validate_subject(applicant)
    kind = SubjectKind.PERSON if resident.is_valid(normalised) else SubjectKind.ORGANISATION
    return normalised, kind


def check_moment(now: datetime | None) -> datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise InvalidRequest("a moment without a time zone is ambiguous", code="naive_time")
    return now


@dataclass(frozen=True)
class PrecheckResult:
    applicant: str = field(repr=False)  # normalised; shown only masked
    applicant_kind: SubjectKind
    plan: BundlePlan
    materials: tuple[MaterialAnswer, ...]
    checked_at: datetime
    organisation: str
    items: tuple[ServiceItem, ...]  # the plan's items, stage by stage

    @property
    def totals(self) -> dict[str, int]:
        counts = {outcome.value: 0 for outcome in Outcome}
        for answer in self.materials:
            counts[answer.outcome.value] += 1
        counts["total"] = len(self.materials)
        counts["no_longer_handed_over"] = sum(
            answer.outcome in NOT_HANDED_OVER for answer in self.materials
        )
        return counts

    def audit_details(self) -> dict[str, Any]:
        """What the audit log keeps of the answer: the plan, the totals and each material's
        outcome (codes only: nothing personal)."""
        return {
            "plan": self.plan.code or [code for stage in self.plan.stages for code in stage],
            "totals": self.totals,
            "materials": {answer.code: answer.outcome.value for answer in self.materials},
        }

    def answer(self, material: str) -> MaterialAnswer:
        for answer in self.materials:
            if answer.code == material:
                return answer
        raise KeyError(f"no material {material!r} in this precheck")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, the applicant masked."""
        plan = self.plan
        return {
            "applicant": mask_subject(self.applicant),
            "applicant_kind": self.applicant_kind.value,
            "applicant_matches_plan": self.applicant_kind is plan.subject_kind,
            "organisation": self.organisation,
            "checked_at": self.checked_at.isoformat(),
            "plan": {
                "bundle": plan.code,
                "name": plan.name,
                "subject_kind": plan.subject_kind.value,
                "stages": [list(stage) for stage in plan.stages],
                "service_items": [_item(item) for item in self.items],
            },
            "time_limit": {
                "days": plan.time_limit.days,
                "explanation": plan.time_limit.explain(),
                "summed_days": plan.time_limit.total,
                "cut": float(plan.time_limit.cut),
            },
            "materials": [answer.as_dict() for answer in self.materials],
            "totals": self.totals,
        }


def precheck(
    session: Session,
    catalogue: Catalogue,
    *,
    applicant: str,
    plan: BundlePlan,
    organisation: str,
    grants: Sequence[Grant],
    urls: PublicUrls,
    now: datetime | None = None,
) -> PrecheckResult:
    """Answer every material of ``plan`` for ``applicant`` as a client of ``organisation``
    holding ``grants``; see the module docstring."""
    checker = MaterialChecker(
        session,
        catalogue,
        applicant=applicant,
        organisation=organisation,
        grants=grants,
        urls=urls,
        now=now,
    )
    return PrecheckResult(
        applicant=checker.applicant,
        applicant_kind=checker.kind,
        plan=plan,
        materials=tuple(checker.check(plan.materials)),
        checked_at=checker.now,
        organisation=organisation,
        items=tuple(catalogue.service_item(code) for stage in plan.stages for code in stage),
    )


class MaterialChecker:
    """Answers materials for one applicant and one client at one moment; the precheck and the
    submission report both go through it, so a material is judged the same way by both."""

    def __init__(
        self,
        session: Session,
        catalogue: Catalogue,
        *,
        applicant: str,
        organisation: str,
        grants: Sequence[Grant],
        urls: PublicUrls,
        now: datetime | None = None,
    ) -> None:
        self.session = session
        self.catalogue = catalogue
        self.applicant, self.kind = applicant_kind(applicant)
        self.organisation = organisation
        self.grants = tuple(grants)
        self.urls = urls
        self.now = check_moment(now)
        self._licences: dict[str, list[LicenceVersion]] = {}
        self._records: dict[str, CurrentRecord] = {}
        self._heads: dict[str, int] = {}
        self._verified: dict[str, Verification] = {}
        self._decisions: dict[tuple[str, str], dict[str, FieldDecision]] = {}

    def check(self, materials: Sequence[MergedMaterial]) -> list[MaterialAnswer]:
        self._fetch(materials)
        return [self._material(merged) for merged in materials]

    # -- reading, once for all materials ------------------------------------------------------

    def _fetch(self, materials: Sequence[MergedMaterial]) -> None:
        types, datasets = set(), set()
        for merged in materials:
            for source in merged.material.sources:
                if source.licence_type is not None:
                    if self.catalogue.licence_type(source.licence_type).holder_kind is self.kind:
                        types.add(source.licence_type)
                elif self._dataset(source).key.kind.subject_kind is self.kind:
                    datasets.add(source.dataset)
        self._licences = newest_licences(self.session, self.applicant, types)
        self._records = current_records(self.session, self.applicant, datasets)
        self._heads = head_versions(self.session, set(self._records))

    # -- one material ---------------------------------------------------------------------

    def _material(self, merged: MergedMaterial) -> MaterialAnswer:
        material = merged.material
        attempts: list[Attempt] = []
        for source in material.sources:
            if source.licence_type is not None:
                attempt, licence = self._licence_source(source.licence_type)
                attempts.append(attempt)
                if licence is not None:
                    return self._answer(merged, Outcome.HELD_LICENCE, attempts, licence=licence)
            else:
                attempt, data = self._dataset_source(source, merged.items)
                attempts.append(attempt)
                if data is not None:
                    return self._answer(merged, Outcome.HELD_DATA, attempts, data=data)
        outcome = Outcome.COMMITMENT if material.commitment_allowed else Outcome.MUST_SUBMIT
        if attempts:
            reason: Reason | None = most_informative([a.reason for a in attempts if a.reason])
        else:
            reason = None if material.commitment_allowed else Reason.APPLICANT_ONLY
        return self._answer(merged, outcome, attempts, reason=reason)

    @staticmethod
    def _answer(
        merged: MergedMaterial,
        outcome: Outcome,
        attempts: list[Attempt],
        *,
        reason: Reason | None = None,
        licence: HeldLicence | None = None,
        data: HeldData | None = None,
    ) -> MaterialAnswer:
        return MaterialAnswer(
            code=merged.material.code,
            name=merged.material.name,
            items=merged.items,
            outcome=outcome,
            reason=reason,
            licence=licence,
            data=data,
            attempts=tuple(attempts),
        )

    def _licence_source(self, type_code: str) -> tuple[Attempt, HeldLicence | None]:
        licence_type = self.catalogue.licence_type(type_code)
        if licence_type.holder_kind is not self.kind:
            return Attempt("licence_type", type_code, False, Reason.WRONG_HOLDER_KIND), None
        rows = self._licences.get(type_code, [])
        if not rows:
            return Attempt("licence_type", type_code, False, Reason.NOTHING_HELD), None
        tried: dict[str, str] = {}
        reasons: list[Reason] = []
        for row in rows:
            verification = self._verify(row)
            outcome = verification.outcome
            if outcome is Verified.VALID and _expired(row, self.now):
                outcome = Verified.EXPIRED  # valid now, but not at the moment asked about
            tried[row.id] = outcome.value
            reason = reason_of(outcome)
            if reason is None:
                held = HeldLicence(
                    licence_id=row.id,
                    version=row.version,
                    type_code=row.type_code,
                    type_name=licence_type.name,
                    issuer=row.issuer,
                    valid_until=None if row.valid_until is None else as_utc(row.valid_until),
                    verification=outcome,
                    checked_at=verification.checked_at,
                    verify_url=self.urls.verify_page(row.id),
                )
                attempt = Attempt("licence_type", type_code, True, detail={"licences": tried})
                return attempt, held
            reasons.append(reason)
        reason = most_informative(reasons)
        return Attempt("licence_type", type_code, False, reason, {"licences": tried}), None

    def _verify(self, row: LicenceVersion) -> Verification:
        if row.id not in self._verified:
            self._verified[row.id] = verify_stored(self.session, row.id, urls=self.urls)
        return self._verified[row.id]

    def _dataset_source(
        self, source: MaterialSource, items: Sequence[str]
    ) -> tuple[Attempt, HeldData | None]:
        dataset = self._dataset(source)
        if dataset.key.kind.subject_kind is not self.kind:
            return Attempt("dataset", dataset.code, False, Reason.WRONG_HOLDER_KIND), None
        record = self._records.get(dataset.code)
        if record is None:
            return Attempt("dataset", dataset.code, False, Reason.NOTHING_HELD), None
        refused: dict[str, str] = {}
        for item in items:
            decisions = self._field_decisions(dataset, item)
            withheld = [f for f in source.fields if decisions[f].access is FieldAccess.WITHHELD]
            if withheld:
                refused = refused or {f: str(decisions[f].reason) for f in withheld}
                continue
            data = HeldData(
                dataset=dataset.code,
                dataset_name=dataset.name,
                department=dataset.department,
                dataset_version=self._heads.get(dataset.code, record.version_from),
                record_version=record.version_from,
                record_valid_from=record.valid_from,
                fields=source.fields,
                masked=tuple(f for f in source.fields if decisions[f].access is FieldAccess.MASKED),
                service_item=item,
            )
            return Attempt("dataset", dataset.code, True), data
        attempt = Attempt(
            "dataset", dataset.code, False, Reason.NOT_SHARED_WITH_CLIENT, {"withheld": refused}
        )
        return attempt, None

    def _field_decisions(self, dataset: Dataset, item: str) -> dict[str, FieldDecision]:
        key = (dataset.code, item)
        if key not in self._decisions:
            self._decisions[key] = decide_fields(
                dataset,
                organisation=self.organisation,
                grants=self.grants,
                service_item=item,
                now=self.now,
            )
        return self._decisions[key]

    def _dataset(self, source: MaterialSource) -> Dataset:
        assert source.dataset is not None
        return self.catalogue.dataset(source.dataset)


def _expired(row: LicenceVersion, now: datetime) -> bool:
    return row.valid_until is not None and as_utc(row.valid_until) <= now


def _item(item: ServiceItem) -> dict[str, Any]:
    return {
        "code": item.code,
        "name": item.name,
        "department": item.department,
        "statutory_days": item.statutory_days,
        "promised_days": item.promised_days,
    }
