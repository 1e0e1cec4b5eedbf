"""The field policy (`exchange.access.policy`): which fields of a dataset a client gets, masked or
withheld, and why — on the shipped catalogue's datasets, and on variants of them with a
不予共享 field (the shipped catalogue declares none). A hypothesis property checks every
combination of field classes, sensitivity, grants and service items against the rules as
PRODUCT.md states them, and that `apply` never hands over a withheld field or a raw sensitive
value without a grant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from licence_helpers import company, person

from catalog.loader import load_catalogue
from catalog.schema import Catalogue, Dataset, FieldType, SharingClass
from exchange.access.policy import (
    FieldAccess,
    FieldDecision,
    Grant,
    WithheldReason,
    apply,
    decide_fields,
    field_class,
    mask_value,
)
from exchange.identifiers import resident, uscc

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
PLATFORM = "acceptance_platform"
ITEM = "330100-QT-0101"
OTHER_ITEM = "330100-QR-0101"


@cache
def catalogue() -> Catalogue:
    return load_catalogue()


def dataset(code: str) -> Dataset:
    return catalogue().dataset(code)


def with_fields(entry: Dataset, **changes: dict) -> Dataset:
    """``entry`` with some fields changed (``name={"sharing": ..., "sensitive": ...}``)."""
    fields = tuple(
        field.model_copy(update=changes[field.name]) if field.name in changes else field
        for field in entry.fields
    )
    return entry.model_copy(update={"fields": fields, "legal_basis": entry.legal_basis or "测试"})


def grant(
    dataset_code: str,
    *fields: str,
    request_id: int = 1,
    items: tuple[str, ...] = (),
    expires_at: datetime = NOW + timedelta(days=30),
) -> Grant:
    return Grant(request_id, dataset_code, frozenset(fields), frozenset(items), expires_at)


def decide(
    entry: Dataset,
    organisation: str = PLATFORM,
    grants: tuple[Grant, ...] = (),
    service_item: str | None = ITEM,
    now: datetime = NOW,
) -> dict[str, FieldDecision]:
    return decide_fields(
        entry, organisation=organisation, grants=grants, service_item=service_item, now=now
    )


def access(decisions: dict[str, FieldDecision]) -> dict[str, tuple[str, str | None]]:
    return {
        name: (d.access.value, d.reason.value if d.reason else None)
        for name, d in decisions.items()
    }


# -- the catalogue as shipped -----------------------------------------------------------------


def test_the_provider_sees_its_dataset_whole_even_a_not_shared_field() -> None:
    marriage = with_fields(
        dataset("marriage_registration"), registry_office={"sharing": SharingClass.NOT_SHARED}
    )
    decisions = decide(marriage, organisation="civil_affairs", grants=())
    assert list(decisions) == [field.name for field in marriage.fields]  # in field order
    assert {d.access for d in decisions.values()} == {FieldAccess.SHARED}
    assert all(d.reason is None and d.grant is None for d in decisions.values())


def test_an_unconditional_dataset_is_served_with_its_sensitive_fields_masked() -> None:
    household = dataset("household_registration")
    decisions = access(decide(household))
    assert decisions["name"] == ("shared", None)
    assert decisions["birth_date"] == ("shared", None)
    assert decisions["id_number"] == ("masked", "sensitive")
    assert decisions["address"] == ("masked", "sensitive")


def test_a_grant_naming_a_sensitive_field_unmasks_it_and_only_it() -> None:
    household = dataset("household_registration")
    decisions = decide(household, grants=(grant("household_registration", "address"),))
    assert decisions["address"] == FieldDecision("address", FieldAccess.SHARED, grant=1)
    assert decisions["id_number"].access is FieldAccess.MASKED


def test_a_conditional_dataset_is_withheld_without_a_grant() -> None:
    marriage = dataset("marriage_registration")
    decisions = access(decide(marriage))
    assert set(decisions.values()) == {("withheld", "no_approved_request")}


def test_a_conditional_field_of_an_unconditional_dataset_is_withheld_alone() -> None:
    social = dataset("social_insurance")
    assert field_class(social, social.field("monthly_base")) is SharingClass.CONDITIONAL
    decisions = access(decide(social))
    assert decisions["monthly_base"] == ("withheld", "no_approved_request")
    assert decisions["status"] == ("shared", None)


def test_a_covering_grant_opens_the_conditional_fields_it_names() -> None:
    marriage = dataset("marriage_registration")
    opened = grant("marriage_registration", "marital_status", "spouse_name", request_id=7)
    decisions = decide(marriage, grants=(opened,))
    assert decisions["marital_status"] == FieldDecision(
        "marital_status", FieldAccess.SHARED, None, 7
    )
    assert decisions["spouse_name"].grant == 7
    assert decisions["certificate_number"].access is FieldAccess.WITHHELD


@pytest.mark.parametrize(
    ("why", "the_grant", "service_item", "now"),
    [
        ("another dataset", grant("real_estate_registration", "marital_status"), ITEM, NOW),
        ("another field", grant("marriage_registration", "spouse_name"), ITEM, NOW),
        ("expired", grant("marriage_registration", "marital_status", expires_at=NOW), ITEM, NOW),
        (
            "expired long ago",
            grant("marriage_registration", "marital_status", expires_at=NOW - timedelta(days=1)),
            ITEM,
            NOW,
        ),
        (
            "another service item",
            grant("marriage_registration", "marital_status", items=(OTHER_ITEM,)),
            ITEM,
            NOW,
        ),
        (
            "no service item named by the lookup",
            grant("marriage_registration", "marital_status", items=(ITEM,)),
            None,
            NOW,
        ),
    ],
)
def test_a_grant_that_does_not_cover_the_lookup_opens_nothing(
    why: str, the_grant: Grant, service_item: str | None, now: datetime
) -> None:
    decisions = decide(
        dataset("marriage_registration"), grants=(the_grant,), service_item=service_item, now=now
    )
    assert decisions["marital_status"] == FieldDecision(
        "marital_status", FieldAccess.WITHHELD, WithheldReason.NO_APPROVED_REQUEST
    ), why


@pytest.mark.parametrize("service_item", [ITEM, OTHER_ITEM, None])
def test_a_grant_without_service_items_covers_any_lookup(service_item: str | None) -> None:
    opened = grant("marriage_registration", "marital_status")
    decisions = decide(
        dataset("marriage_registration"), grants=(opened,), service_item=service_item
    )
    assert decisions["marital_status"].access is FieldAccess.SHARED


def test_a_grant_limited_to_an_item_covers_that_item_until_just_before_expiry() -> None:
    opened = grant("marriage_registration", "marital_status", items=(ITEM, OTHER_ITEM))
    marriage = dataset("marriage_registration")
    just_before = opened.expires_at - timedelta(microseconds=1)
    assert decide(marriage, grants=(opened,), now=just_before)["marital_status"].grant == 1
    at_expiry = decide(marriage, grants=(opened,), now=opened.expires_at)
    assert at_expiry["marital_status"].access is FieldAccess.WITHHELD


def test_a_not_shared_field_is_withheld_whatever_was_granted() -> None:
    household = with_fields(
        dataset("household_registration"),
        ethnicity={"sharing": SharingClass.NOT_SHARED},
        address={"sharing": SharingClass.NOT_SHARED},
    )
    everything = grant("household_registration", *(f.name for f in household.fields))
    decisions = access(decide(household, grants=(everything,)))
    assert decisions["ethnicity"] == ("withheld", "not_shared")
    assert decisions["address"] == ("withheld", "not_shared")  # sensitive too: still withheld
    assert decisions["name"] == ("shared", None)


def test_a_not_shared_dataset_keeps_only_fields_that_override_it() -> None:
    tax = dataset("tax_registration").model_copy(update={"sharing_class": SharingClass.NOT_SHARED})
    tax = with_fields(tax, status={"sharing": SharingClass.UNCONDITIONAL})
    decisions = access(decide(tax, grants=(grant("tax_registration", "taxpayer_name"),)))
    assert decisions["taxpayer_name"] == ("withheld", "not_shared")
    assert decisions["status"] == ("shared", None)


# -- apply and masking ---------------------------------------------------------------------


def test_apply_serves_shared_fields_masks_sensitive_ones_and_leaves_withheld_ones_out() -> None:
    business = dataset("business_registration")
    record = {
        "uscc": company(1),
        "name": "杭州测试1有限公司",
        "legal_representative": "张三",
        "legal_rep_id_number": person(1),
        "status": "存续",
        "not_a_field": "dropped",
    }
    served = apply(business, decide(business), record)
    assert served == {
        "uscc": company(1),
        "name": "杭州测试1有限公司",
        "legal_representative": "张三",
        "status": "存续",
    }  # legal_rep_id_number is conditional: withheld, not masked; unknown keys never pass
    granted = decide(business, grants=(grant("business_registration", "legal_rep_id_number"),))
    assert apply(business, granted, record)["legal_rep_id_number"] == person(1)


def test_apply_masks_resident_ids_uscc_and_other_values_each_their_way() -> None:
    entry = with_fields(
        dataset("social_insurance"),
        employer_uscc={"sensitive": True},
        name={"sensitive": True},
    )
    record = {"id_number": person(3), "employer_uscc": company(3), "name": "欧阳修远"}
    served = apply(entry, decide(entry), record)
    assert served["id_number"] == resident.mask(person(3))
    assert served["id_number"][6:14] == "********"  # the birth date never shows
    assert served["employer_uscc"] == uscc.mask(company(3))
    assert served["employer_uscc"] != company(3)
    assert served["name"] == "欧***"


@pytest.mark.parametrize(
    ("kind", "value", "masked"),
    [
        (FieldType.STRING, "", ""),
        (FieldType.STRING, None, None),
        (FieldType.STRING, "张三", "张*"),
        (FieldType.STRING, "杭州市西湖区文三路100号1幢2单元301室", "杭********"),
        (FieldType.DECIMAL, "12345.67", "1*******"),
        (FieldType.RESIDENT_ID, "1101051949", "**********"),  # truncated: hidden entirely
    ],
)
def test_mask_value(kind: FieldType, value: str | None, masked: str | None) -> None:
    field = dataset("household_registration").field("address").model_copy(update={"type": kind})
    assert mask_value(field, value) == masked


def test_a_masked_credit_rating_does_not_reveal_the_rating() -> None:
    tax = dataset("tax_registration")
    platform_view = decide(tax.model_copy(update={"sharing_class": SharingClass.UNCONDITIONAL}))
    assert platform_view["credit_rating"].access is FieldAccess.MASKED
    masked = {
        rating: apply(tax, platform_view, {"credit_rating": rating})["credit_rating"]
        for rating in tax.field("credit_rating").values
    }
    assert len(set(masked.values())) == 1, masked  # every rating looks the same masked


# -- the rules, for any combination -----------------------------------------------------------

CLASSES = [SharingClass.UNCONDITIONAL, SharingClass.CONDITIONAL, SharingClass.NOT_SHARED]
ITEMS = [ITEM, OTHER_ITEM]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Dataset, str, list[Grant], str | None, datetime]:
    base = draw(st.sampled_from(catalogue().datasets))
    changes = {
        field.name: {
            "sharing": draw(st.sampled_from([None, *CLASSES])),
            "sensitive": draw(st.booleans()),
        }
        for field in base.fields
    }
    entry = with_fields(base, **changes).model_copy(
        update={"sharing_class": draw(st.sampled_from(CLASSES))}
    )
    names = [field.name for field in entry.fields]
    organisation = draw(st.sampled_from([entry.department, PLATFORM, "data_bureau"]))
    grants = [
        Grant(
            request_id=number,
            dataset=draw(st.sampled_from([entry.code, entry.code, "other_dataset"])),
            fields=frozenset(draw(st.lists(st.sampled_from(names), max_size=len(names)))),
            service_items=frozenset(draw(st.lists(st.sampled_from(ITEMS), max_size=2))),
            expires_at=NOW + timedelta(hours=draw(st.integers(-48, 48))),
        )
        for number in range(1, draw(st.integers(0, 4)) + 1)
    ]
    service_item = draw(st.sampled_from([None, *ITEMS]))
    return entry, organisation, grants, service_item, NOW


def expected(
    entry: Dataset, organisation: str, grants: list[Grant], item: str | None, now: datetime
) -> dict[str, tuple[FieldAccess, WithheldReason | None, set[int]]]:
    """The rules of PRODUCT.md "Sharing classes", stated afresh: access, reason, and the grants
    that may be named as having opened the field."""
    rules = {}
    for field in entry.fields:
        sharing = field.sharing or entry.sharing_class
        covering = {
            g.request_id
            for g in grants
            if g.dataset == entry.code
            and field.name in g.fields
            and now < g.expires_at
            and (not g.service_items or item in g.service_items)
        }
        if organisation == entry.department:
            rules[field.name] = (FieldAccess.SHARED, None, set())
        elif sharing is SharingClass.NOT_SHARED:
            rules[field.name] = (FieldAccess.WITHHELD, WithheldReason.NOT_SHARED, set())
        elif covering:
            rules[field.name] = (FieldAccess.SHARED, None, covering)
        elif sharing is SharingClass.CONDITIONAL:
            rules[field.name] = (FieldAccess.WITHHELD, WithheldReason.NO_APPROVED_REQUEST, set())
        elif field.sensitive:
            rules[field.name] = (FieldAccess.MASKED, WithheldReason.SENSITIVE, set())
        else:
            rules[field.name] = (FieldAccess.SHARED, None, set())
    return rules


def sample_value(kind: FieldType, number: int) -> str:
    if kind is FieldType.RESIDENT_ID:
        return person(number)
    if kind is FieldType.USCC:
        return company(number)
    return f"值{number:03d}"


@settings(max_examples=300, deadline=None)
@given(scenario=scenarios(), number=st.integers(0, 999))
def test_every_decision_follows_the_rules_and_apply_never_leaks(
    scenario: tuple[Dataset, str, list[Grant], str | None, datetime], number: int
) -> None:
    entry, organisation, grants, item, now = scenario
    decisions = decide(entry, organisation, tuple(grants), item, now)
    rules = expected(entry, organisation, grants, item, now)
    assert list(decisions) == [field.name for field in entry.fields]
    for name, decision in decisions.items():
        access_, reason, covering = rules[name]
        assert (decision.access, decision.reason) == (access_, reason), name
        assert decision.grant in covering if covering else decision.grant is None, name

    record = {field.name: sample_value(field.type, number) for field in entry.fields}
    served = apply(entry, decisions, record)
    for field in entry.fields:
        access_, _, _ = rules[field.name]
        if access_ is FieldAccess.WITHHELD:
            assert field.name not in served
        elif access_ is FieldAccess.MASKED:
            assert served[field.name] != record[field.name]
            if field.type in (FieldType.RESIDENT_ID, FieldType.USCC):
                assert record[field.name] not in served[field.name]
        else:
            assert served[field.name] == record[field.name]
