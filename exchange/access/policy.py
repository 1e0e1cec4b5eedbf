"""Which fields of a dataset a client may see, field by field, and why not when it may not.

The rules (国发〔2016〕51号, PRODUCT.md "Sharing classes"), applied to each field's class (the
field's own ``sharing`` if it has one, else the dataset's ``sharing_class``):

* the providing department sees its own dataset whole: it published it;
* 不予共享 (``not_shared``): never served through the exchange, whatever was requested;
* 有条件共享 (``conditional``): only under a `Grant` (an approved, unexpired sharing request of
  the client's organisation that names the field and, if it is limited to service items, the
  item the lookup serves);
* 无条件共享 (``unconditional``): served; a ``sensitive`` field is masked unless a grant names it.

`decide_fields` gives one `FieldDecision` per field; `apply` turns a stored record into what the
client receives (withheld fields left out, masked ones masked). The decisions travel with the
answer, so every field a client does not get is accounted for with its reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from catalog.schema import Dataset, DatasetField, FieldType, SharingClass
from exchange.identifiers import resident, uscc


class FieldAccess(StrEnum):
    SHARED = "shared"
    MASKED = "masked"
    WITHHELD = "withheld"


class WithheldReason(StrEnum):
    """Why a field is masked or withheld: the codes an API answer carries."""

    NOT_SHARED = "not_shared"  # 不予共享: never served
    NO_APPROVED_REQUEST = "no_approved_request"  # conditional, and no grant covers it
    SENSITIVE = "sensitive"  # served masked: no grant covers it


@dataclass(frozen=True)
class Grant:
    """An approved, unexpired sharing request, as the policy needs it."""

    request_id: int
    dataset: str
    fields: frozenset[str]
    service_items: frozenset[str]  # empty: any service item
    expires_at: datetime

    def covers(self, dataset: str, field: str, service_item: str | None, now: datetime) -> bool:
        if self.dataset != dataset or field not in self.fields or now >= self.expires_at:
            return False
        return not self.service_items or service_item in self.service_items


@dataclass(frozen=True)
class FieldDecision:
    field: str
    access: FieldAccess
    reason: WithheldReason | None = None
    grant: int | None = None  # the sharing request that opened the field, if one did


def field_class(dataset: Dataset, field: DatasetField) -> SharingClass:
    return field.sharing or dataset.sharing_class


def requestable(dataset: Dataset, field: DatasetField) -> bool:
    """Whether a sharing request can open ``field``: a conditional field, or an unconditional
    one served masked because it is sensitive. A 不予共享 field never; any other field is
    served without asking."""
    sharing = field_class(dataset, field)
    return sharing is SharingClass.CONDITIONAL or (
        sharing is SharingClass.UNCONDITIONAL and field.sensitive
    )


def decide_fields(
    dataset: Dataset,
    *,
    organisation: str,
    grants: Iterable[Grant],
    service_item: str | None,
    now: datetime,
) -> dict[str, FieldDecision]:
    """One decision per field of ``dataset`` for a client of ``organisation``, in field order."""
    if organisation == dataset.department:
        return {f.name: FieldDecision(f.name, FieldAccess.SHARED) for f in dataset.fields}
    grants = [grant for grant in grants if grant.dataset == dataset.code]
    decisions = {}
    for field in dataset.fields:
        granted = next(
            (g.request_id for g in grants if g.covers(dataset.code, field.name, service_item, now)),
            None,
        )
        sharing = field_class(dataset, field)
        if sharing is SharingClass.NOT_SHARED:
            decision = FieldDecision(field.name, FieldAccess.WITHHELD, WithheldReason.NOT_SHARED)
        elif granted is not None:
            decision = FieldDecision(field.name, FieldAccess.SHARED, grant=granted)
        elif sharing is SharingClass.CONDITIONAL:
            decision = FieldDecision(
                field.name, FieldAccess.WITHHELD, WithheldReason.NO_APPROVED_REQUEST
            )
        elif field.sensitive:
            decision = FieldDecision(field.name, FieldAccess.MASKED, WithheldReason.SENSITIVE)
        else:
            decision = FieldDecision(field.name, FieldAccess.SHARED)
        decisions[field.name] = decision
    return decisions


def apply(
    dataset: Dataset, decisions: Mapping[str, FieldDecision], values: Mapping[str, Any]
) -> dict[str, Any]:
    """The record as the client receives it: shared fields as stored, masked ones masked,
    withheld ones absent."""
    served: dict[str, Any] = {}
    for field in dataset.fields:
        decision = decisions[field.name]
        if decision.access is FieldAccess.WITHHELD or field.name not in values:
            continue
        value = values[field.name]
        served[field.name] = (
            mask_value(field, value) if decision.access is FieldAccess.MASKED else value
        )
    return served


#: What a masked value from a short list of values looks like: the same for every value.
HIDDEN = "***"


def mask_value(field: DatasetField, value: Any) -> str | None:
    """A sensitive value as it may be shown: identifiers as their kind masks them; an enum,
    a boolean or a value of one character hidden whole (its first character would be the
    value: a credit rating ``A``); anything else reduced to its first character (a name's
    surname, a number's first digit)."""
    if value is None or value == "":
        return value
    text = str(value)
    if field.type is FieldType.RESIDENT_ID:
        return resident.mask(text)
    if field.type is FieldType.USCC:
        return uscc.mask(text)
    if field.type in (FieldType.ENUM, FieldType.BOOLEAN) or len(text) <= 1:
        return HIDDEN
    return text[:1] + "*" * min(len(text) - 1, 8)
