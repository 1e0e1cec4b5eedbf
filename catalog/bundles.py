"""One thing, done once (一件事一次办): a bundle's merged material list and its time limit.

Merged materials: the union of the items' materials, each material once, in order of first
appearance (stage by stage, item by item), each listing the items that need it. The acceptance
platform asks for every material once, however many items need it.

Time limit (PRODUCT.md), in working days:

- the items of one stage run in parallel and take the longest single statutory limit;
- stages run in sequence: the stages' limits are summed and, when there is more than one stage,
  cut by the bundle's `sequential_cut` (at least 70%): ``sum × (1 − cut)``.

Rounding: the exact figure is kept as a fraction and rounded DOWN to whole working days, so the
cut is never smaller than declared ("cut by at least 70%"); rounding up would promise, e.g.,
6 days for an 18-day sequence (a 67% cut). The one exception is a floor of one working day: a
sequence summing to 2 or 3 days would otherwise round to 0, promising that work done in steps
finishes the day it is applied for.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from catalog.schema import Bundle, Catalogue, Material, SubjectKind

MIN_CUT = Fraction(7, 10)
"""The smallest share by which a sequence's summed limits must be cut."""


@dataclass(frozen=True)
class MergedMaterial:
    """A material asked once, and the items that need it."""

    material: Material
    items: tuple[str, ...]


@dataclass(frozen=True)
class StageLimit:
    """A stage of parallel items: its limit is the longest of its items' statutory limits."""

    items: tuple[str, ...]
    days: int
    longest: str  # the item with that limit (the first, when several tie)


@dataclass(frozen=True)
class TimeLimit:
    """How the bundle's time limit came about, stage by stage."""

    stages: tuple[StageLimit, ...]
    cut: Fraction  # the share cut from the summed limits; 0 for a single stage
    days: int

    @property
    def total(self) -> int:
        """The stages' limits summed, before the cut."""
        return sum(stage.days for stage in self.stages)

    @property
    def exact(self) -> Fraction:
        """The limit before rounding."""
        return self.total * (1 - self.cut)

    def explain(self) -> str:
        parts = " + ".join(f"{stage.days} ({stage.longest})" for stage in self.stages)
        if len(self.stages) == 1:
            return f"one stage in parallel: the longest limit, {parts} = {self.days} working days"
        kept = 1 - self.cut
        return (
            f"{len(self.stages)} stages in sequence: {parts} = {self.total}; cut by "
            f"{_percent(self.cut)}: {self.total} × {_percent(kept)} = {_number(self.exact)} "
            f"→ {self.days} working days"
        )


@dataclass(frozen=True)
class BundlePlan:
    """A bundle (or an ad-hoc set of items): what to ask for once, and how long it may take."""

    code: str | None  # None for an ad-hoc set of items
    name: str
    subject_kind: SubjectKind
    stages: tuple[tuple[str, ...], ...]
    materials: tuple[MergedMaterial, ...]
    time_limit: TimeLimit


def merge_materials(catalogue: Catalogue, item_codes: Iterable[str]) -> tuple[MergedMaterial, ...]:
    """The items' materials, each once, in order of first appearance, with who needs them."""
    needed_by: dict[str, list[str]] = {}
    for code in item_codes:
        for material in catalogue.service_item(code).materials:
            needed_by.setdefault(material, []).append(code)
    return tuple(
        MergedMaterial(catalogue.material(material), tuple(items))
        for material, items in needed_by.items()
    )


def time_limit(
    catalogue: Catalogue, stages: Sequence[Sequence[str]], *, cut: float | Fraction = MIN_CUT
) -> TimeLimit:
    """The time limit of `stages` run in sequence, the items of each stage in parallel."""
    share = Fraction(str(cut)) if isinstance(cut, float) else Fraction(cut)
    if not MIN_CUT <= share < 1:
        raise ValueError(f"a sequence's limits are cut by at least 70% and less than 100%: {cut}")
    limits = []
    for stage in stages:
        if not stage:
            raise ValueError("a stage is empty")
        days = {code: catalogue.service_item(code).statutory_days for code in stage}
        longest = max(stage, key=days.__getitem__)  # max keeps the first of equals
        limits.append(StageLimit(tuple(stage), days[longest], longest))
    if not limits:
        raise ValueError("no stages")
    if len(limits) == 1:
        return TimeLimit(tuple(limits), Fraction(0), limits[0].days)
    exact = sum(stage.days for stage in limits) * (1 - share)
    return TimeLimit(tuple(limits), share, max(1, math.floor(exact)))


def plan_bundle(catalogue: Catalogue, code: str) -> BundlePlan:
    """The merged material list and time limit of a declared bundle."""
    bundle: Bundle = catalogue.bundle(code)
    return BundlePlan(
        code=bundle.code,
        name=bundle.name,
        subject_kind=bundle.subject_kind,
        stages=bundle.stages,
        materials=merge_materials(catalogue, bundle.items),
        time_limit=time_limit(catalogue, bundle.stages, cut=bundle.sequential_cut),
    )


def plan_items(
    catalogue: Catalogue,
    item_codes: Sequence[str],
    *,
    parallel: bool = True,
    cut: float | Fraction = MIN_CUT,
) -> BundlePlan:
    """An ad-hoc set of items applied for together (the precheck accepts several).

    Items with no declared order are independent, so by default they run in parallel (one
    stage); ``parallel=False`` runs them in the given order, one stage each.
    """
    if not item_codes:
        raise ValueError("no service items")
    repeated = sorted({code for code in item_codes if item_codes.count(code) > 1})
    if repeated:
        raise ValueError(f"service items listed twice: {repeated}")
    items = [catalogue.service_item(code) for code in item_codes]
    kinds = {item.subject_kind for item in items}
    if len(kinds) > 1:
        raise ValueError("the items serve both persons and organisations: one applicant cannot")
    stages = (tuple(item_codes),) if parallel else tuple((code,) for code in item_codes)
    return BundlePlan(
        code=None,
        name="、".join(item.name for item in items),
        subject_kind=kinds.pop(),
        stages=stages,
        materials=merge_materials(catalogue, item_codes),
        time_limit=time_limit(catalogue, stages, cut=cut),
    )


def _percent(share: Fraction) -> str:
    return f"{_number(share * 100)}%"


def _number(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):g}"
