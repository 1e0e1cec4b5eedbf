"""A licence's fields checked against its type in the catalogue, and its holder against its kind.

Every value in a licence document is a string (dates ISO 8601, decimals as written), so the
document's RFC 8785 form never depends on how a float prints. Problems are collected for every
field, so one refusal names them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from catalog.schema import FieldType, LicenceType, SubjectKind
from exchange.identifiers import resident, uscc
from licences.errors import LicenceError


class InvalidFields(LicenceError):
    code = "invalid_fields"
    status = 422

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        listed = "; ".join(f"{name}: {problem}" for name, problem in self.problems.items())
        super().__init__(f"the licence's fields are not right: {listed}")


class InvalidHolder(LicenceError):
    code = "invalid_holder"
    status = 422


HOLDER_CODE_TYPES = {SubjectKind.PERSON: "111", SubjectKind.ORGANISATION: "001"}


def holder_key(licence_type: LicenceType, value: str) -> str:
    """The holder's identifier, normalised, or `InvalidHolder` saying why (never echoing it)."""
    module = resident if licence_type.holder_kind is SubjectKind.PERSON else uscc
    try:
        return module.validate(value)
    except ValueError as exc:
        kind = "resident identity number" if module is resident else "USCC"
        reason = getattr(exc, "reason", "invalid")
        raise InvalidHolder(
            f"a {licence_type.name} is held by a {licence_type.holder_kind.value}: the holder "
            f"must be a valid {kind} ({reason})"
        ) from None


def check_fields(
    licence_type: LicenceType, values: Mapping[str, Any], *, complete: bool
) -> dict[str, str]:
    """The fields as strings in the type's order; unknown, missing (if ``complete``) or
    mistyped fields are refused together."""
    declared = {field.name: field for field in licence_type.fields}
    problems = {name: "not a field of this licence type" for name in values if name not in declared}
    result: dict[str, str] = {}
    for name, field in declared.items():
        value = values.get(name)
        if value is None or value == "":
            if complete:
                problems[name] = "missing"
            continue
        text = str(value).strip()
        problem = _problem(field.type, text)
        if problem:
            problems[name] = problem
        else:
            result[name] = _normalised(field.type, text)
    if problems:
        raise InvalidFields(problems)
    return result


def _problem(kind: FieldType, text: str) -> str | None:
    try:
        if kind is FieldType.DATE:
            date.fromisoformat(text)
        elif kind is FieldType.DECIMAL:
            Decimal(text)
        elif kind is FieldType.INTEGER:
            int(text)
        elif kind is FieldType.RESIDENT_ID:
            resident.validate(text)
        elif kind is FieldType.USCC:
            uscc.validate(text)
        elif kind is FieldType.BOOLEAN and text.lower() not in ("true", "false"):
            return "not true or false"
    except (ValueError, InvalidOperation):
        return f"not a valid {kind.value}"
    return None


def _normalised(kind: FieldType, text: str) -> str:
    if kind is FieldType.DATE:
        return date.fromisoformat(text).isoformat()
    if kind is FieldType.RESIDENT_ID:
        return resident.validate(text)
    if kind is FieldType.USCC:
        return uscc.validate(text)
    if kind is FieldType.BOOLEAN:
        return text.lower()
    return text
