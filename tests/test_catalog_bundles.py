"""Bundles: one merged material list, and the time limit arithmetic of PRODUCT.md."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.bundles import merge_materials, plan_bundle, plan_items, time_limit
from catalog.loader import load_catalogue
from catalog.schema import Catalogue, Material, ServiceItem

LEGAL_BASIS = "《测试条例》"


def item(code: str, days: int, materials: tuple[str, ...], kind: str = "person") -> ServiceItem:
    return ServiceItem(
        code=code,
        name=f"事项{code}",
        category="other",
        subject_kind=kind,
        department="dept",
        legal_basis=LEGAL_BASIS,
        statutory_days=days,
        promised_days=0,
        materials=materials,
    )


def small(*items: ServiceItem) -> Catalogue:
    """A catalogue of just these items and their materials (the schema does not cross-check)."""
    codes = dict.fromkeys(code for i in items for code in i.materials)
    return Catalogue(
        departments=(),
        datasets=(),
        licence_types=(),
        materials=tuple(Material(code=code, name=code) for code in codes),
        service_items=items,
        bundles=(),
    )


SMALL = small(
    item("ITEM-A", 10, ("id_card", "form")),
    item("ITEM-B", 20, ("form", "photo", "id_card")),
    item("ITEM-C", 5, ("contract", "photo")),
    item("ITEM-D", 1, ("form",)),
    item("ITEM-E", 2, ("form",)),
    item("ITEM-O", 3, ("licence",), kind="organisation"),
)


@pytest.fixture(scope="module")
def shipped() -> Catalogue:
    return load_catalogue()


def test_merged_materials_appear_once_in_order_of_first_need() -> None:
    merged = merge_materials(SMALL, ["ITEM-A", "ITEM-B", "ITEM-C"])
    assert [(m.material.code, m.items) for m in merged] == [
        ("id_card", ("ITEM-A", "ITEM-B")),
        ("form", ("ITEM-A", "ITEM-B")),
        ("photo", ("ITEM-B", "ITEM-C")),
        ("contract", ("ITEM-C",)),
    ]


@pytest.mark.parametrize(
    ("stages", "cut", "days"),
    [
        ([["ITEM-A", "ITEM-B"]], 0.7, 20),  # parallel: the longest
        ([["ITEM-A", "ITEM-B", "ITEM-C"]], 0.9, 20),  # one stage: no cut at all
        ([["ITEM-A"], ["ITEM-B"]], 0.7, 9),  # (10 + 20) × 0.3
        ([["ITEM-A"], ["ITEM-B"], ["ITEM-B2"]], 0.7, 15),  # 50 × 0.3, exactly 15
        ([["ITEM-A", "ITEM-B"], ["ITEM-C"]], 0.7, 7),  # (20 + 5) × 0.3 = 7.5, down
        ([["ITEM-A"], ["ITEM-B"]], 0.8, 6),  # (10 + 20) × 0.2
        ([["ITEM-A"], ["ITEM-A2"]], 0.9, 2),  # 20 × 0.1: 1.9999… in floats, 2 exactly
        ([["ITEM-D"], ["ITEM-E"]], 0.7, 1),  # 3 × 0.3 = 0.9: at least one working day
    ],
)
def test_time_limit_arithmetic(stages: list[list[str]], cut: float, days: int) -> None:
    catalogue = small(
        *SMALL.service_items, item("ITEM-B2", 20, ("form",)), item("ITEM-A2", 10, ("form",))
    )
    limit = time_limit(catalogue, stages, cut=cut)
    assert limit.days == days
    assert [s.items for s in limit.stages] == [tuple(stage) for stage in stages]


def test_the_explanation_shows_how_the_figure_came_about() -> None:
    limit = time_limit(SMALL, [["ITEM-A", "ITEM-B"], ["ITEM-C"]], cut=0.7)
    assert [(s.days, s.longest) for s in limit.stages] == [(20, "ITEM-B"), (5, "ITEM-C")]
    assert (limit.total, limit.cut, limit.exact) == (25, Fraction(7, 10), Fraction(15, 2))
    assert limit.explain() == (
        "2 stages in sequence: 20 (ITEM-B) + 5 (ITEM-C) = 25; cut by 70%: "
        "25 × 30% = 7.5 → 7 working days"
    )
    parallel = time_limit(SMALL, [["ITEM-A", "ITEM-B"]])
    assert parallel.cut == 0 and "longest" in parallel.explain()


@pytest.mark.parametrize("cut", [0.69, 1.0, 0.0])
def test_a_cut_below_seventy_percent_or_total_is_refused(cut: float) -> None:
    with pytest.raises(ValueError, match="at least 70%"):
        time_limit(SMALL, [["ITEM-A"], ["ITEM-B"]], cut=cut)


@given(
    stages=st.lists(st.lists(st.integers(1, 400), min_size=1, max_size=4), min_size=1, max_size=6),
    percent=st.integers(70, 99),
)
def test_time_limit_matches_integer_arithmetic(stages: list[list[int]], percent: int) -> None:
    """Against a reference in whole numbers: floor(sum × (100 − p) / 100), at least 1."""
    items = [
        item(f"ITEM-{s}-{i}", days, ("form",))
        for s, stage in enumerate(stages)
        for i, days in enumerate(stage)
    ]
    codes = [[f"ITEM-{s}-{i}" for i in range(len(stage))] for s, stage in enumerate(stages)]
    limit = time_limit(small(*items), codes, cut=percent / 100)
    total = sum(max(stage) for stage in stages)
    expected = total if len(stages) == 1 else max(1, total * (100 - percent) // 100)
    assert limit.days == expected
    assert limit.days <= total
    if len(stages) > 1 and expected > 1:
        assert limit.days * 100 <= total * 30  # cut by at least 70%


def test_ad_hoc_items_run_in_parallel_unless_told_otherwise() -> None:
    parallel = plan_items(SMALL, ["ITEM-A", "ITEM-C"])
    assert parallel.code is None and parallel.stages == (("ITEM-A", "ITEM-C"),)
    assert parallel.time_limit.days == 10
    assert [m.material.code for m in parallel.materials] == ["id_card", "form", "contract", "photo"]
    sequential = plan_items(SMALL, ["ITEM-A", "ITEM-C"], parallel=False)
    assert sequential.stages == (("ITEM-A",), ("ITEM-C",))
    assert sequential.time_limit.days == 4  # 15 × 0.3 = 4.5


def test_ad_hoc_items_are_checked() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        plan_items(SMALL, ["ITEM-A", "ITEM-A"])
    with pytest.raises(ValueError, match="both persons and organisations"):
        plan_items(SMALL, ["ITEM-A", "ITEM-O"])
    with pytest.raises(KeyError, match="ITEM-Z"):
        plan_items(SMALL, ["ITEM-Z"])
    with pytest.raises(ValueError, match="no service items"):
        plan_items(SMALL, [])


@pytest.mark.parametrize(
    ("code", "days"),
    [
        ("newborn_birth", 15),  # (10 + 20 + max(5, 20, 20)) × 0.3 = 15
        ("business_opening", 5),  # (3 + max(1, 5, 15, 5)) × 0.3 = 5.4
        ("home_purchase", 13),  # (5 + 30 + max(5, 20, 3)) × 0.25 = 13.75
    ],
)
def test_shipped_bundle_time_limits(shipped: Catalogue, code: str, days: int) -> None:
    assert plan_bundle(shipped, code).time_limit.days == days


def test_business_opening_asks_the_business_licence_once(shipped: Catalogue) -> None:
    plan = plan_bundle(shipped, "business_opening")
    assert [m.material.code for m in plan.materials] == [
        "application_form",
        "articles_of_association",
        "investor_identity",
        "premises_proof",
        "business_licence",
        "legal_rep_identity",
        "seal_specimen",
        "employee_list",
    ]
    licence = next(m for m in plan.materials if m.material.code == "business_licence")
    assert licence.items == ("330100-QT-0201", "330100-QT-0202", "330100-QR-0201", "330100-QT-0203")


@pytest.mark.parametrize("code", ["newborn_birth", "business_opening", "home_purchase"])
def test_shipped_bundles_merge_exactly_their_items_materials(shipped: Catalogue, code: str) -> None:
    bundle = shipped.bundle(code)
    plan = plan_bundle(shipped, code)
    codes = [m.material.code for m in plan.materials]
    assert len(codes) == len(set(codes))
    assert set(codes) == {c for i in bundle.items for c in shipped.service_item(i).materials}
    for merged in plan.materials:
        needing = [
            i for i in bundle.items if merged.material.code in shipped.service_item(i).materials
        ]
        assert list(merged.items) == needing
