"""From what the acceptance platform asks for to a plan: items or a bundle, checked.

The platform names either service items (applied for together, in parallel) or a declared
"one thing" bundle. Every refusal is an `InvalidRequest` with its own code, so the API answers
422 with a reason a program can act on. Asking the applicant for a material the catalogue does
not list for these items is refused as ``material_not_in_catalogue``: a red card against the
departments whose items are concerned (PRODUCT.md, "Supervision"), so the error carries the
materials and those departments for the API to record.
"""

from __future__ import annotations

from collections.abc import Sequence

from catalog.bundles import BundlePlan, plan_bundle, plan_items
from catalog.schema import Catalogue
from exchange.errors import InvalidRequest


def resolve_plan(
    catalogue: Catalogue,
    *,
    service_items: Sequence[str] | None,
    bundle: str | None,
    materials_asked: Sequence[str] | None = None,
) -> BundlePlan:
    """The plan for ``service_items`` or ``bundle`` (exactly one), checked against
    ``materials_asked``: the materials the platform intends to ask the applicant for."""
    if bool(service_items) == bool(bundle):
        raise InvalidRequest(
            "name either service items or a bundle, not both and not neither",
            code="items_or_bundle",
        )
    plan = _bundle(catalogue, bundle) if bundle else _items(catalogue, list(service_items or ()))
    if materials_asked:
        check_materials_asked(catalogue, plan, materials_asked)
    return plan


def check_materials_asked(
    catalogue: Catalogue, plan: BundlePlan, materials_asked: Sequence[str]
) -> None:
    """Refuse materials the plan's merged list does not contain (a red card)."""
    listed = {merged.material.code for merged in plan.materials}
    extra = sorted({code for code in materials_asked if code not in listed})
    if extra:
        raise not_in_catalogue(catalogue, extra, [code for stage in plan.stages for code in stage])


def not_in_catalogue(
    catalogue: Catalogue, materials: Sequence[str], item_codes: Sequence[str]
) -> InvalidRequest:
    """The red-card refusal: materials asked that the catalogue does not list for the items."""
    departments = sorted({catalogue.service_item(code).department for code in item_codes})
    return InvalidRequest(
        f"the catalogue does not list {', '.join(materials)} for {', '.join(item_codes)}: "
        "an applicant may not be asked for it (red card for "
        f"{', '.join(departments)})",
        code="material_not_in_catalogue",
        materials=list(materials),
        departments=departments,
        service_items=list(item_codes),
    )


def _bundle(catalogue: Catalogue, code: str) -> BundlePlan:
    try:
        return plan_bundle(catalogue, code)
    except KeyError:
        raise InvalidRequest(
            f"no bundle {code!r} in the catalogue", code="unknown_bundle", bundle=code
        ) from None


def _items(catalogue: Catalogue, codes: list[str]) -> BundlePlan:
    known = {item.code: item for item in catalogue.service_items}
    unknown = sorted({code for code in codes if code not in known})
    if unknown:
        raise InvalidRequest(
            f"no service item {', '.join(map(repr, unknown))} in the catalogue",
            code="unknown_service_item",
            service_items=unknown,
        )
    repeated = sorted({code for code in codes if codes.count(code) > 1})
    if repeated:
        raise InvalidRequest(
            f"service items listed twice: {', '.join(repeated)}",
            code="service_item_repeated",
            service_items=repeated,
        )
    kinds = {known[code].subject_kind for code in codes}
    if len(kinds) > 1:
        raise InvalidRequest(
            "the items serve both persons and organisations: one applicant cannot apply for all",
            code="mixed_subject_kinds",
            service_items=codes,
        )
    return plan_items(catalogue, codes)
