"""Resolving what the acceptance platform asks for into a plan, and refusing what it may not."""

from __future__ import annotations

import pytest

from catalog.loader import load_catalogue
from catalog.schema import Catalogue, SubjectKind
from exchange.errors import InvalidRequest
from exchange.lookup.plans import resolve_plan

NEWBORN_ITEMS = ["330100-QT-0101", "330100-QR-0101", "330100-QT-0102", "330100-QT-0103",
                 "330100-JF-0101"]  # fmt: skip


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def refusal(catalogue: Catalogue, **request) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as raised:
        resolve_plan(catalogue, **request)
    assert raised.value.status == 422
    return raised.value


@pytest.mark.parametrize(
    "request_",
    [
        {"service_items": None, "bundle": None},
        {"service_items": [], "bundle": None},
        {"service_items": ["330100-QR-0102"], "bundle": "newborn_birth"},
    ],
    ids=["neither", "empty items", "both"],
)
def test_exactly_one_of_items_or_bundle(catalogue: Catalogue, request_: dict) -> None:
    assert refusal(catalogue, **request_).code == "items_or_bundle"


def test_an_unknown_item_or_bundle_is_named(catalogue: Catalogue) -> None:
    error = refusal(catalogue, service_items=["330100-QR-0102", "330100-XX-9999"], bundle=None)
    assert error.code == "unknown_service_item"
    assert error.details["service_items"] == ["330100-XX-9999"]
    error = refusal(catalogue, service_items=None, bundle="moving_house")
    assert error.code == "unknown_bundle"
    assert error.details["bundle"] == "moving_house"


def test_items_for_persons_and_organisations_are_refused_together(catalogue: Catalogue) -> None:
    error = refusal(catalogue, service_items=["330100-QR-0102", "330100-XK-0201"], bundle=None)
    assert error.code == "mixed_subject_kinds"


def test_an_item_listed_twice_is_refused(catalogue: Catalogue) -> None:
    error = refusal(catalogue, service_items=["330100-QR-0102"] * 2, bundle=None)
    assert error.code == "service_item_repeated"


def test_a_bundle_asks_every_material_once_with_its_time_limit(catalogue: Catalogue) -> None:
    plan = resolve_plan(catalogue, service_items=None, bundle="newborn_birth")
    codes = [merged.material.code for merged in plan.materials]
    assert len(codes) == len(set(codes))
    needed = {m for item in NEWBORN_ITEMS for m in catalogue.service_item(item).materials}
    assert set(codes) == needed
    # every item needing a material is listed against it, e.g. all five want the form
    by_code = {merged.material.code: merged.items for merged in plan.materials}
    assert set(by_code["application_form"]) == set(NEWBORN_ITEMS)
    assert by_code["marriage_certificate"] == ("330100-QR-0101",)
    # stages 10 + 20 + 20 working days in sequence, cut by 70%
    assert plan.time_limit.days == 15
    assert plan.subject_kind is SubjectKind.PERSON


def test_items_applied_for_together_run_in_parallel(catalogue: Catalogue) -> None:
    plan = resolve_plan(catalogue, service_items=["330100-QR-0102", "330100-QT-0104"], bundle=None)
    assert plan.stages == (("330100-QR-0102", "330100-QT-0104"),)
    assert plan.time_limit.days == 5  # the longer of 1 and 5
    codes = [merged.material.code for merged in plan.materials]
    assert codes.count("id_card") == 1 and codes.count("household_register") == 1


def test_materials_the_plan_lists_may_be_asked(catalogue: Catalogue) -> None:
    plan = resolve_plan(
        catalogue,
        service_items=None,
        bundle="business_opening",
        materials_asked=["business_licence", "application_form", "seal_specimen"],
    )
    assert plan.code == "business_opening"


def test_asking_for_a_material_not_in_the_catalogue_is_a_red_card(catalogue: Catalogue) -> None:
    error = refusal(
        catalogue,
        service_items=None,
        bundle="business_opening",
        materials_asked=["business_licence", "photo", "bank_statement"],
    )
    assert error.code == "material_not_in_catalogue"
    # `photo` exists in the catalogue but no item of this bundle lists it
    assert error.details["materials"] == ["bank_statement", "photo"]
    items = catalogue.bundle("business_opening").items
    assert error.details["departments"] == sorted(
        {catalogue.service_item(code).department for code in items}
    )
    assert error.details["service_items"] == list(items)
