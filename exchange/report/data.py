"""What the operator's report shows, read from the store as plain dataclasses.

Every count is aggregated by the database where the data allows it (``GROUP BY`` over batches,
versions, licences and submissions), so the cost is one pass of the database over each table,
not rows shipped to Python. The audit log is the exception: what a lookup was for, a
precheck's totals and a red card's departments live in each entry's leaf (the signed JSON,
not columns), so the access entries are streamed in chunks (`_AUDIT_CHUNK`) and folded as they
come, in one pass for all three sections; memory stays bounded by the number of distinct
clients, purposes, plans and departments, not by the log's size.

Names come from the catalogue the exchange runs with (``settings.catalog_dir``), Chinese and
English, so a code the catalogue no longer has still shows, as its code.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, and_, case, func, literal, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from catalog.models import CatalogRevision
from catalog.schema import Catalogue
from exchange.audit.events import AuditKind
from exchange.audit.models import AuditEntry, AuditHead
from exchange.audit.verify import VerifyReport
from exchange.ingest.freshness import Freshness, judge_freshness
from exchange.ingest.history import as_utc
from exchange.ingest.models import Batch, BatchStatus, DatasetVersion
from exchange.lookup.answers import HELD, Outcome
from exchange.lookup.submissions import flags_per_department
from exchange.store.migrate import current_revision
from licences.models import LicenceStatus, LicenceVersion

#: Leaves parsed per round trip while streaming the audit log.
_AUDIT_CHUNK = 5_000
#: The audit kinds that are lookups of a subject's data (the access report's kinds).
ACCESS_KINDS = (AuditKind.LOOKUP, AuditKind.PRECHECK, AuditKind.SUBMISSION, AuditKind.REFUSAL)
#: A refusal with this code is a red card against the departments it names.
RED_CARD = "material_not_in_catalogue"
#: An active licence past its ``valid_until``: shown apart, as verification would judge it.
EXPIRED = "expired"
LICENCE_STATES = (
    LicenceStatus.ACTIVE.value,
    EXPIRED,
    LicenceStatus.SUSPENDED.value,
    LicenceStatus.REVOKED.value,
    LicenceStatus.SUPERSEDED.value,
)
OUTCOMES = tuple(outcome.value for outcome in Outcome)


@dataclass(frozen=True)
class Names:
    """A catalogue entry's code and its Chinese and English names (the code when unknown)."""

    code: str
    name: str
    name_en: str

    @property
    def label(self) -> str:
        """Both names, for tables."""
        return self.name if self.name == self.code else f"{self.name} {self.name_en}"

    @property
    def short(self) -> str:
        """The Chinese name and the code, for a plot's axis."""
        return self.name if self.name == self.code else f"{self.name} ({self.code})"


@dataclass(frozen=True)
class Header:
    generated_at: datetime
    store: str  # the store's URL, password hidden
    schema_revision: str | None
    catalogue_revision: int | None
    catalogue_digest: str | None
    catalogue_loaded_at: datetime | None
    audit_entries: int
    audit_checked: bool  # False: `audit verify` was skipped
    audit_intact: bool | None
    audit_checkpoints: int | None
    audit_problem: str | None  # the first problem `audit verify` found


@dataclass(frozen=True)
class DepartmentQuality:
    """Batches of one department: rows read and set aside, by reason, and whole refusals."""

    department: Names
    batches_accepted: int
    batches_refused: int
    rows_read: int
    rows_quarantined: int
    #: Quarantine entries per reason (a row with two bad fields counts under both).
    reasons: Mapping[str, int]
    #: Refused batches per refusal reason.
    refusals: Mapping[str, int]

    @property
    def rate(self) -> float:
        """Share of the rows read (in accepted batches) that were set aside."""
        return self.rows_quarantined / self.rows_read if self.rows_read else 0.0


@dataclass(frozen=True)
class DatasetFreshness:
    dataset: Names
    department: Names
    frequency: str
    freshness: Freshness


@dataclass(frozen=True)
class BundleSavings:
    """The prechecks of one plan: a bundle, or items asked for together (``a+b``)."""

    plan: Names
    prechecks: int
    materials: int  # summed over the prechecks
    outcomes: Mapping[str, int]
    no_longer_handed_over: int

    @property
    def share(self) -> float:
        """Materials no longer handed over, commitments included (as the precheck counts)."""
        return self.no_longer_handed_over / self.materials if self.materials else 0.0

    @property
    def held_share(self) -> float:
        """Materials the exchange itself held (a licence or shared data): commitments left out."""
        held = sum(self.outcomes.get(outcome.value, 0) for outcome in HELD)
        return held / self.materials if self.materials else 0.0


@dataclass(frozen=True)
class LicenceTypeCounts:
    licence_type: Names
    by_status: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class ClientPurpose:
    """Access entries of one client for one stated purpose, per kind."""

    actor: str
    role: str
    purpose: str
    by_kind: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())


@dataclass(frozen=True)
class DepartmentSupervision:
    department: Names
    reports: int  # materials reported handed over for its items
    flagged: int  # of which the exchange held: repeated submissions
    red_cards: int  # refusals naming it for asking a material not in the catalogue


@dataclass(frozen=True)
class ReportData:
    header: Header
    quality: list[DepartmentQuality]
    freshness: list[DatasetFreshness]
    bundles: list[BundleSavings]
    licences: list[LicenceTypeCounts]
    lookups: list[ClientPurpose]
    supervision: list[DepartmentSupervision]


@dataclass
class _AuditFold:
    """What one pass over the access entries accumulates."""

    lookups: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    prechecks: Counter[str] = field(default_factory=Counter)
    materials: Counter[str] = field(default_factory=Counter)
    saved: Counter[str] = field(default_factory=Counter)
    outcomes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    red_cards: Counter[str] = field(default_factory=Counter)

    def add(self, leaf: Mapping[str, Any]) -> None:
        kind = leaf.get("kind", "?")
        details = leaf.get("details") or {}
        purpose = leaf.get("purpose") or "—"
        self.lookups[(leaf.get("actor", "?"), leaf.get("role", "?"), purpose, kind)] += 1
        if kind == AuditKind.PRECHECK.value:
            self._precheck(details)
        elif kind == AuditKind.REFUSAL.value and details.get("code") == RED_CARD:
            self.red_cards.update(set(details.get("departments") or ()))

    def _precheck(self, details: Mapping[str, Any]) -> None:
        plan = details.get("plan")
        totals = details.get("totals") or {}
        if plan is None or "total" not in totals:
            return  # not a precheck summary this report understands
        key = plan if isinstance(plan, str) else "+".join(plan)
        self.prechecks[key] += 1
        self.materials[key] += int(totals["total"])
        self.saved[key] += int(totals.get("no_longer_handed_over", 0))
        self.outcomes[key].update((details.get("materials") or {}).values())


def read_report_data(
    engine: Engine,
    catalogue: Catalogue,
    *,
    now: datetime,
    verified: VerifyReport | None = None,
) -> ReportData:
    """Everything the report shows, at ``now``. ``verified`` is `audit verify`'s report
    report, or None when the check was skipped."""
    with engine.connect() as connection:
        header = _header(connection, engine, now, verified)
        quality = _quality(connection, catalogue)
        freshness = _freshness(connection, catalogue, now)
        licences = _licences(connection, catalogue, now)
        fold = _fold_audit(connection)
    with Session(engine) as session:
        flags = flags_per_department(session)
    return ReportData(
        header=header,
        quality=quality,
        freshness=freshness,
        bundles=_bundles(fold, catalogue),
        licences=licences,
        lookups=_lookups(fold),
        supervision=_supervision(fold, flags, catalogue),
    )


# -- header -----------------------------------------------------------------------------------


def _header(
    connection: Connection, engine: Engine, now: datetime, verified: VerifyReport | None
) -> Header:
    revision = connection.execute(
        select(CatalogRevision.id, CatalogRevision.digest, CatalogRevision.loaded_at)
        .order_by(CatalogRevision.id.desc())
        .limit(1)
    ).first()
    size = connection.scalar(select(AuditHead.size)) or 0
    problem = None
    if verified is not None and not verified.ok:
        first = verified.problems[0] if verified.problems else None
        problem = f"{first.kind}: {first.message}" if first else "not intact"
    return Header(
        generated_at=now,
        store=make_url(str(engine.url)).render_as_string(hide_password=True),
        schema_revision=current_revision(engine),
        catalogue_revision=revision.id if revision else None,
        catalogue_digest=revision.digest if revision else None,
        catalogue_loaded_at=as_utc(revision.loaded_at) if revision else None,
        audit_entries=int(size),
        audit_checked=verified is not None,
        audit_intact=None if verified is None else bool(verified.ok),
        audit_checkpoints=None if verified is None else verified.checkpoints,
        audit_problem=problem,
    )


# -- data quality and freshness ---------------------------------------------------------------


def _names(catalogue: Catalogue, kind: str, code: str) -> Names:
    finder = getattr(catalogue, kind)
    try:
        entry = finder(code)
    except KeyError:
        return Names(code, code, code)
    return Names(code, entry.name, entry.name_en)


def _quality(connection: Connection, catalogue: Catalogue) -> list[DepartmentQuality]:
    """Per department: accepted and refused batches, rows read and set aside (summed by the
    database), quarantine entries by reason (from each accepted batch's stats: one small JSON
    per batch, not per row) and refusals by reason."""
    accepted = BatchStatus.ACCEPTED.value
    refused = BatchStatus.REFUSED.value
    totals = connection.execute(
        select(
            Batch.department_code,
            func.sum(case((Batch.status == accepted, 1), else_=0)),
            func.sum(case((Batch.status == refused, 1), else_=0)),
            func.coalesce(func.sum(case((Batch.status == accepted, Batch.rows_read), else_=0)), 0),
            func.coalesce(
                func.sum(case((Batch.status == accepted, Batch.rows_quarantined), else_=0)), 0
            ),
        ).group_by(Batch.department_code)
    ).all()
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    for department, stats in connection.execute(
        select(Batch.department_code, Batch.stats).where(
            Batch.status == accepted, Batch.rows_quarantined > 0
        )
    ):
        reasons[department].update((stats or {}).get("reasons") or {})
    refusals: dict[str, Counter[str]] = defaultdict(Counter)
    for department, reason, count in connection.execute(
        select(Batch.department_code, Batch.refusal_reason, func.count())
        .where(Batch.status == refused)
        .group_by(Batch.department_code, Batch.refusal_reason)
    ):
        refusals[department][reason or "?"] += count
    found = [
        DepartmentQuality(
            department=_names(catalogue, "department", department),
            batches_accepted=int(n_accepted or 0),
            batches_refused=int(n_refused or 0),
            rows_read=int(read),
            rows_quarantined=int(quarantined),
            reasons=dict(reasons[department].most_common()),
            refusals=dict(refusals[department].most_common()),
        )
        for department, n_accepted, n_refused, read, quarantined in totals
    ]
    return sorted(found, key=lambda q: (-q.rate, q.department.code))


def newest_versions(connection: Connection) -> dict[str, datetime]:
    """Each dataset's newest version's time: one grouped query over the versions' primary key."""
    rows = connection.execute(
        select(DatasetVersion.dataset_code, func.max(DatasetVersion.created_at)).group_by(
            DatasetVersion.dataset_code
        )
    )
    return {code: as_utc(moment) for code, moment in rows if moment is not None}


def _freshness(
    connection: Connection, catalogue: Catalogue, now: datetime
) -> list[DatasetFreshness]:
    newest = newest_versions(connection)
    return [
        DatasetFreshness(
            dataset=Names(dataset.code, dataset.name, dataset.name_en),
            department=_names(catalogue, "department", dataset.department),
            frequency=dataset.update_frequency.value,
            freshness=judge_freshness(dataset, newest.get(dataset.code), now=now),
        )
        for dataset in sorted(catalogue.datasets, key=lambda d: (d.department, d.code))
    ]


# -- licences ---------------------------------------------------------------------------------


def _licences(
    connection: Connection, catalogue: Catalogue, now: datetime
) -> list[LicenceTypeCounts]:
    """Licence versions per type and status, an active one past its end date as ``expired``."""
    expired = and_(
        LicenceVersion.status == LicenceStatus.ACTIVE.value,
        LicenceVersion.valid_until.is_not(None),
        LicenceVersion.valid_until <= now,
    )
    state = case((expired, literal(EXPIRED)), else_=LicenceVersion.status).label("state")
    rows = connection.execute(
        select(LicenceVersion.type_code, state, func.count()).group_by(
            LicenceVersion.type_code, state
        )
    )
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for type_code, status, count in rows:
        counts[type_code][status] += count
    found = [
        LicenceTypeCounts(_names(catalogue, "licence_type", code), dict(by_status))
        for code, by_status in counts.items()
    ]
    return sorted(found, key=lambda c: (-c.total, c.licence_type.code))


# -- the audit log ----------------------------------------------------------------------------


def _fold_audit(connection: Connection) -> _AuditFold:
    fold = _AuditFold()
    for leaf in stream_leaves(connection, ACCESS_KINDS):
        fold.add(leaf)
    return fold


def stream_leaves(connection: Connection, kinds: Iterable[AuditKind]) -> Iterable[dict[str, Any]]:
    """The leaf JSON of every entry of ``kinds``, in log order, fetched in chunks (a server-side
    cursor on PostgreSQL). An unreadable leaf is skipped: `audit verify` is what reports it."""
    query = (
        select(AuditEntry.leaf)
        .where(AuditEntry.kind.in_(sorted(kind.value for kind in kinds)))
        .order_by(AuditEntry.seq)
    )
    result = connection.execution_options(stream_results=True, yield_per=_AUDIT_CHUNK).execute(
        query
    )
    for partition in result.partitions():
        for (leaf,) in partition:
            try:
                parsed = orjson.loads(leaf)
            except orjson.JSONDecodeError:
                continue
            if isinstance(parsed, dict):
                yield parsed


def _bundles(fold: _AuditFold, catalogue: Catalogue) -> list[BundleSavings]:
    found = []
    for plan, prechecks in fold.prechecks.items():
        names = _names(catalogue, "bundle", plan) if "+" not in plan else Names(plan, plan, plan)
        outcomes = {outcome: fold.outcomes[plan].get(outcome, 0) for outcome in OUTCOMES}
        found.append(
            BundleSavings(
                plan=names,
                prechecks=prechecks,
                materials=fold.materials[plan],
                outcomes=outcomes,
                no_longer_handed_over=fold.saved[plan],
            )
        )
    return sorted(found, key=lambda b: (-b.prechecks, b.plan.code))


def _lookups(fold: _AuditFold) -> list[ClientPurpose]:
    grouped: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    for (actor, role, purpose, kind), count in fold.lookups.items():
        grouped[(actor, role, purpose)][kind] += count
    found = [
        ClientPurpose(actor, role, purpose, dict(kinds))
        for (actor, role, purpose), kinds in grouped.items()
    ]
    return sorted(found, key=lambda c: (-c.total, c.actor, c.purpose))


def _supervision(
    fold: _AuditFold, flags: Iterable[Any], catalogue: Catalogue
) -> list[DepartmentSupervision]:
    by_department = {row.department: row for row in flags}
    codes = set(by_department) | set(fold.red_cards)
    found = [
        DepartmentSupervision(
            department=_names(catalogue, "department", code),
            reports=by_department[code].reports if code in by_department else 0,
            flagged=by_department[code].flagged if code in by_department else 0,
            red_cards=fold.red_cards.get(code, 0),
        )
        for code in codes
    ]
    return sorted(found, key=lambda s: (-(s.flagged + s.red_cards), s.department.code))


__all__ = [
    "ACCESS_KINDS",
    "EXPIRED",
    "LICENCE_STATES",
    "OUTCOMES",
    "RED_CARD",
    "BundleSavings",
    "ClientPurpose",
    "DatasetFreshness",
    "DepartmentQuality",
    "DepartmentSupervision",
    "Header",
    "LicenceTypeCounts",
    "Names",
    "ReportData",
    "newest_versions",
    "read_report_data",
    "stream_leaves",
]
