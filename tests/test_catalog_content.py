"""The shipped catalogue: it loads, it is big enough, it is documented, its codes are real codes."""

from __future__ import annotations

from collections import Counter

import pytest
from stdnum.cn import uscc as stdnum_uscc

from catalog.bundles import plan_bundle
from catalog.loader import load_catalogue
from catalog.schema import Catalogue, FieldType, ItemCategory, SubjectKind

# The contract with the synthetic city (notes/datasets.md): these codes are what it writes.
DEPARTMENTS = {
    "psb",
    "civil_affairs",
    "health",
    "hrss",
    "healthcare_security",
    "market_regulation",
    "natural_resources",
    "housing",
    "tax",
    "education",
    "housing_fund",
    "data_bureau",
}
DATASETS = {
    "household_registration": ("psb", "resident", "id_number"),
    "marriage_registration": ("civil_affairs", "resident", "id_number"),
    "birth_medical_certificate": ("health", "resident", "mother_id_number"),
    "social_insurance": ("hrss", "resident", "id_number"),
    "medical_insurance": ("healthcare_security", "resident", "id_number"),
    "business_registration": ("market_regulation", "uscc", "uscc"),
    "food_business_licence": ("market_regulation", "uscc", "uscc"),
    "real_estate_registration": ("natural_resources", "resident", "id_number"),
    "construction_permit": ("housing", "uscc", "builder_uscc"),
    "tax_registration": ("tax", "uscc", "uscc"),
    "academic_degree": ("education", "resident", "id_number"),
    "housing_fund": ("housing_fund", "resident", "id_number"),
    "employer_social_insurance": ("hrss", "uscc", "uscc"),
}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def gb11714_check(body: str) -> str:
    """GB 11714 organisation code check character, written out here as an independent reference:
    digits 0-9, letters A=10 ...; weights 3 7 9 10 5 8 4 2; 11 - sum mod 11; 10 -> X, 11 -> 0."""
    values = [int(c) if c.isdigit() else ord(c) - ord("A") + 10 for c in body]
    check = 11 - sum(v * w for v, w in zip(values, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def test_meets_the_minimum_counts(catalogue: Catalogue) -> None:
    assert len(catalogue.departments) >= 8
    assert len(catalogue.datasets) >= 12
    assert len(catalogue.licence_types) >= 10
    assert len(catalogue.service_items) >= 20
    assert {item.category for item in catalogue.service_items} == set(ItemCategory)
    assert {item.subject_kind for item in catalogue.service_items} == set(SubjectKind)
    assert {bundle.code for bundle in catalogue.bundles} == {
        "newborn_birth",
        "business_opening",
        "home_purchase",
    }


def test_declares_the_departments_and_datasets_the_synthetic_city_writes(
    catalogue: Catalogue,
) -> None:
    assert {d.code for d in catalogue.departments} == DEPARTMENTS
    declared = {d.code: (d.department, d.key.kind.value, d.key.field) for d in catalogue.datasets}
    assert declared == DATASETS


def test_every_entry_is_documented(catalogue: Catalogue) -> None:
    for department in catalogue.departments:
        assert department.name_en and department.description, department.code
    for dataset in catalogue.datasets:
        assert dataset.name_en and len(dataset.description) > 40, dataset.code
        assert dataset.keywords, dataset.code
        for field in dataset.fields:
            assert field.title and field.description, (dataset.code, field.name)
    for licence in catalogue.licence_types:
        assert licence.name_en and licence.description, licence.code
        assert all(field.title for field in licence.fields), licence.code
    for material in catalogue.materials:
        assert material.description, material.code
    for item in catalogue.service_items:
        assert item.name and "《" in item.legal_basis, item.code
    for bundle in catalogue.bundles:
        assert bundle.name_en and bundle.description, bundle.code


def test_the_chinese_header_is_the_first_alias(catalogue: Catalogue) -> None:
    """The synthetic city writes the first alias as the CSV/xlsx header: it is the title."""
    for dataset in catalogue.datasets:
        for field in dataset.fields:
            assert field.aliases and field.aliases[0] == field.title, (dataset.code, field.name)
            assert len(set(field.aliases)) == len(field.aliases), (dataset.code, field.name)
        headers = Counter(alias for field in dataset.fields for alias in field.aliases)
        assert max(headers.values()) == 1, (dataset.code, headers.most_common(1))


def test_key_fields_are_required_and_personal_ids_sensitive(catalogue: Catalogue) -> None:
    for dataset in catalogue.datasets:
        assert dataset.field(dataset.key.field).required, dataset.code
        for field in dataset.fields:
            if field.type is FieldType.RESIDENT_ID:
                assert field.sensitive, (dataset.code, field.name)


def test_department_usccs_are_government_organs_of_hangzhou(catalogue: Catalogue) -> None:
    for department in catalogue.departments:
        code = department.uscc
        assert stdnum_uscc.is_valid(code), code
        assert code[0] == "1" and code[1] in "12", code  # 机构编制: 机关 or 事业单位
        assert code[2:8] == department.region == "330100", code
        assert gb11714_check(code[8:16]) == code[16], code
    assert len({d.uscc for d in catalogue.departments}) == len(catalogue.departments)


def test_licence_type_codes_name_a_national_defining_authority(catalogue: Catalogue) -> None:
    for licence in catalogue.licence_types:
        authority, number = licence.code[:18], licence.code[18:]
        assert stdnum_uscc.is_valid(authority), licence.code
        assert authority[:8] == "11100000", licence.code  # a national organ, region 100000
        assert gb11714_check(authority[8:16]) == authority[16], licence.code
        assert number.isdigit() and number != "000", licence.code


def test_licences_from_a_dataset_are_issued_by_its_department(catalogue: Catalogue) -> None:
    for licence in catalogue.licence_types:
        if licence.source is not None:
            dataset = catalogue.dataset(licence.source.dataset)
            assert dataset.department in licence.issuers, licence.code
            assert dataset.key.kind.subject_kind is licence.holder_kind, licence.code


def test_every_dataset_states_its_legal_basis(catalogue: Catalogue) -> None:
    for dataset in catalogue.datasets:
        assert "《" in dataset.legal_basis, dataset.code


def test_every_material_is_needed_and_some_are_satisfied_by_dataset_fields(
    catalogue: Catalogue,
) -> None:
    needed = {code for item in catalogue.service_items for code in item.materials}
    assert needed == {material.code for material in catalogue.materials}
    by_fields = {
        material.code
        for material in catalogue.materials
        if material.sources and all(source.dataset for source in material.sources)
    }
    assert {"social_insurance_proof", "taxpayer_proof", "residence_proof"} <= by_fields
    assert any(m.commitment_allowed for m in catalogue.materials)
    assert any(m.applicant_only for m in catalogue.materials)


def test_promised_limits_are_within_statutory_ones(catalogue: Catalogue) -> None:
    for item in catalogue.service_items:
        assert 0 <= item.promised_days <= item.statutory_days, item.code


@pytest.mark.parametrize("code", ["newborn_birth", "business_opening", "home_purchase"])
def test_each_bundle_asks_a_shared_material_once(catalogue: Catalogue, code: str) -> None:
    plan = plan_bundle(catalogue, code)
    shared = [merged for merged in plan.materials if len(merged.items) >= 2]
    assert len(shared) >= 2
    assert len(plan.stages) >= 2 and any(len(stage) >= 2 for stage in plan.stages)
