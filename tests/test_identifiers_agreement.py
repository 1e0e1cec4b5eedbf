"""The bulk path, the scalar path and python-stdnum agree on a million generated values each.

Generated values (``exchange.identifiers.samples``, seeded): mostly valid, and a few percent of
each corruption (one character changed, two adjacent swapped, one deleted or inserted, a letter,
a bad birth date, an unknown region, missing) and each normalisation case (full-width, lower-case
x, spaces, 15-digit legacy).

python-stdnum is fed the value normalised by this file's own reference (NFKC from
``unicodedata``, whitespace and hyphens removed, upper-cased, a 15-digit number upgraded with
stdnum's check digit), and must agree with us except for EXACTLY the documented differences:

* resident: ``KeyError`` for an unknown county in a known province (we: ``unknown_region``);
  a region code not in use in the birth year (we accept it); a real birth date in the future or
  before 1880-01-01 (we: ``bad_birth_date``);
* USCC: a letter registration authority or category in positions 1-2 (stdnum: InvalidFormat).

Every difference must be explained, and each documented difference must actually occur (so the
test exercises it). The scalar path is compared on all values (about 10 s per million).
stdnum's scalar calls cost about a minute per million resident values, run once per module.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache

import pyarrow as pa
import pytest
from stdnum import numdb
from stdnum.cn import ric
from stdnum.cn import uscc as stdnum_uscc
from stdnum.exceptions import ValidationError

from exchange.identifiers import resident, uscc
from exchange.identifiers.bulk import BulkResult, validate_resident, validate_uscc
from exchange.identifiers.samples import resident_samples, uscc_samples

pytestmark = pytest.mark.slow

SIZE = 1_000_000
TODAY = date(2025, 6, 30)
EARLIEST = date(1880, 1, 1)
_SEPARATORS = re.compile(r"[\s\-\u200b\u200c\u200d\u2060\ufeff]")


def reference_normalise(value: str | None) -> str:
    """Independent of exchange.identifiers.normalise (which uses Arrow's NFKC)."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", value or "")).upper()


def stdnum_outcome(validate: Callable[[str], str], text: str) -> str:
    """'valid', the stdnum exception class name, or 'KeyError'."""
    try:
        validate(text)
    except ValidationError as exc:
        return type(exc).__name__
    except KeyError:
        return "KeyError"
    return "valid"


def scalar_outcome(
    validate: Callable[[str | None], str], value: str | None
) -> tuple[str | None, str | None]:
    try:
        return validate(value), None
    except ValidationError as exc:
        return None, exc.reason.value


@dataclass
class Run:
    values: list[str | None]
    kinds: list[str]
    sources: list[str]
    normalised: list[str | None]
    reasons: list[str | None]
    warnings: list[str | None]
    references: list[str]
    stdnum: list[str]


def _run(
    table: pa.Table,
    result: BulkResult,
    stdnum_validate: Callable[[str], str],
    upgrade: Callable[[str], str],
) -> Run:
    values = table["value"].to_pylist()
    references = [upgrade(reference_normalise(value)) for value in values]
    return Run(
        values=values,
        kinds=table["kind"].to_pylist(),
        sources=table["source"].to_pylist(),
        normalised=result.normalised.to_pylist(),
        reasons=result.reason.to_pylist(),
        warnings=result.warning.to_pylist(),
        references=references,
        stdnum=[stdnum_outcome(stdnum_validate, text) for text in references],
    )


def _upgrade_legacy(text: str) -> str:
    if len(text) == 15 and text.isascii() and text.isdigit():
        body = text[:6] + "19" + text[6:]
        return body + ric.calc_check_digit(body + "0")
    return text


@pytest.fixture(scope="module")
def resident_table() -> pa.Table:
    return resident_samples(SIZE, seed=20250630, today=TODAY)


@pytest.fixture(scope="module")
def resident_run(resident_table: pa.Table) -> Run:
    result = validate_resident(resident_table["value"], today=TODAY)
    return _run(resident_table, result, ric.validate, _upgrade_legacy)


@pytest.fixture(scope="module")
def uscc_table() -> pa.Table:
    return uscc_samples(SIZE, seed=20250630)


@pytest.fixture(scope="module")
def uscc_run(uscc_table: pa.Table) -> Run:
    return _run(uscc_table, validate_uscc(uscc_table["value"]), stdnum_uscc.validate, str)


# --- resident -------------------------------------------------------------------------------

_RESIDENT_STDNUM_CLASS = {
    "missing": {"InvalidLength"},
    "bad_length": {"InvalidLength"},
    # stdnum checks only positions 1-17 for digits; a bad 18th character fails its checksum
    "bad_character": {"InvalidFormat", "InvalidChecksum"},
    "bad_checksum": {"InvalidChecksum"},
    "bad_birth_date": {"InvalidComponent"},
    "unknown_region": {"InvalidComponent"},
}


@cache
def _in_stdnum_data(code: str) -> bool:
    """Independent of exchange.identifiers.regions: ask numdb for the code's county."""
    return any("county" in props for _part, props in numdb.get("cn/loc").info(code))


def _real_date(text: str) -> date | None:
    try:
        return date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return None


def _resident_difference(reference: str, ours: str | None, theirs: str) -> str | None:
    """The documented difference that explains a disagreement on validity, if any."""
    born = _real_date(reference)
    if ours == "unknown_region" and theirs == "KeyError":
        return "unknown county in a known province (stdnum KeyError)"
    # stdnum's InvalidComponent comes from the birth date or the place; with a real date and a
    # county that stdnum has, it can only be the county's period
    if (
        ours is None
        and theirs == "InvalidComponent"
        and born is not None
        and _in_stdnum_data(reference[:6])
    ):
        return "region code not in use in the birth year"
    if ours == "bad_birth_date" and theirs == "valid" and born is not None:
        if born > TODAY:
            return "birth date in the future"
        if born < EARLIEST:
            return "birth date before 1880-01-01"
    return None


def test_resident_bulk_agrees_with_stdnum_except_documented_differences(resident_run: Run):
    differences: Counter[str] = Counter()
    unexplained = []
    for reference, ours, normalised, theirs in zip(
        resident_run.references,
        resident_run.reasons,
        resident_run.normalised,
        resident_run.stdnum,
        strict=True,
    ):
        if ours is None and theirs == "valid":
            assert normalised == reference
            continue
        if ours is not None and theirs in _RESIDENT_STDNUM_CLASS[ours]:
            continue
        explanation = _resident_difference(reference, ours, theirs)
        if explanation is None:
            unexplained.append((reference, ours, theirs))
        else:
            differences[explanation] += 1
    assert unexplained == [], unexplained[:20]
    assert set(differences) == {
        "unknown county in a known province (stdnum KeyError)",
        "region code not in use in the birth year",
        "birth date in the future",
        "birth date before 1880-01-01",
    }, differences


def test_resident_scalar_agrees_with_bulk(resident_run: Run):
    disagreements = []
    for value, *bulk in zip(
        resident_run.values, resident_run.normalised, resident_run.reasons, strict=True
    ):
        scalar = scalar_outcome(lambda v: resident.validate(v, today=TODAY), value)
        if scalar != tuple(bulk):
            disagreements.append((value, scalar, bulk))
    assert disagreements == [], disagreements[:20]


_RESIDENT_EXPECTED = {
    "valid": None,
    "full_width": None,
    "lower_x": None,
    "spaced": None,
    "legacy": None,
    "substituted": "bad_checksum",  # checked before date and region; MOD 11-2 catches them all
    "letter": "bad_character",
    "deleted": "bad_length",
    "inserted": "bad_length",
    "bad_date": "bad_birth_date",
    "unknown_region": "unknown_region",
    "missing": "missing",
}


def test_resident_reason_matches_the_corruption(resident_run: Run):
    wrong: Counter[tuple[str, str | None]] = Counter()
    seen: Counter[str] = Counter()
    for kind, value, source, normalised, reason, warning in zip(
        resident_run.kinds,
        resident_run.values,
        resident_run.sources,
        resident_run.normalised,
        resident_run.reasons,
        resident_run.warnings,
        strict=True,
    ):
        if kind == "transposed":  # swapping two equal digits changes nothing
            expected = None if value == source else "bad_checksum"
        else:
            expected = _RESIDENT_EXPECTED[kind]
        seen[kind] += 1
        if reason != expected or normalised != (source if expected is None else None):
            wrong[(kind, reason)] += 1
        assert warning is None
    assert wrong == Counter()
    assert set(seen) == set(_RESIDENT_EXPECTED) | {"transposed"}
    assert seen["lower_x"] > 0 and sum(v.endswith("x") for v in resident_run.values if v) > 0


# --- USCC -----------------------------------------------------------------------------------

_USCC_STDNUM_CLASS = {
    "missing": {"InvalidLength"},
    "bad_length": {"InvalidLength"},
    "bad_character": {"InvalidFormat"},
    "bad_checksum": {"InvalidChecksum"},
}


def _letter_authority(reference: str) -> bool:
    """A letter in positions 1-2 only, digits in 3-8: the GB 32100 difference."""
    return not reference[:2].isdigit() and reference[2:8].isdigit()


def test_uscc_bulk_agrees_with_stdnum_except_letter_authorities(uscc_run: Run):
    differences: Counter[str] = Counter()
    unexplained = []
    for reference, ours, normalised, theirs in zip(
        uscc_run.references, uscc_run.reasons, uscc_run.normalised, uscc_run.stdnum, strict=True
    ):
        if ours is None and theirs == "valid":
            assert normalised == reference
        elif ours is not None and theirs in _USCC_STDNUM_CLASS[ours]:
            pass
        elif ours in (None, "bad_checksum") and theirs == "InvalidFormat":
            if not _letter_authority(reference):
                unexplained.append((reference, ours, theirs))
            differences[f"letter in positions 1-2, ours {ours}"] += 1
        else:
            unexplained.append((reference, ours, theirs))
    assert unexplained == [], unexplained[:20]
    assert set(differences) == {
        "letter in positions 1-2, ours None",
        "letter in positions 1-2, ours bad_checksum",
    }


def test_uscc_scalar_agrees_with_bulk(uscc_run: Run):
    def scalar(value: str | None) -> tuple[str | None, str | None, str | None]:
        normalised, reason = scalar_outcome(uscc.validate, value)
        return normalised, reason, uscc.warning(value) if normalised else None

    disagreements = []
    for value, *bulk in zip(
        uscc_run.values, uscc_run.normalised, uscc_run.reasons, uscc_run.warnings, strict=True
    ):
        if (outcome := scalar(value)) != tuple(bulk):
            disagreements.append((value, outcome, bulk))
    assert disagreements == [], disagreements[:20]


_USCC_EXPECTED = {
    "valid": None,
    "full_width": None,
    "lower_case": None,
    "spaced": None,
    "substituted": "bad_checksum",  # MOD 31 catches every single substitution
    "letter": "bad_character",
    "deleted": "bad_length",
    "inserted": "bad_length",
    "missing": "missing",
}


def test_uscc_reason_and_warning_match_the_corruption(uscc_run: Run, uscc_table: pa.Table):
    organisation_ok = uscc_table["organisation_ok"].to_pylist()
    wrong: Counter[tuple[str, str | None, str | None]] = Counter()
    warned = 0
    for kind, value, source, normalised, reason, warning, ok in zip(
        uscc_run.kinds,
        uscc_run.values,
        uscc_run.sources,
        uscc_run.normalised,
        uscc_run.reasons,
        uscc_run.warnings,
        organisation_ok,
        strict=True,
    ):
        if kind == "transposed":
            # a swap that moves a letter into the region code (positions 3-8) is a bad character;
            # any other swap of two different characters fails the check (MOD 31 catches them)
            if value == source:
                expected = None
            elif not value[2:8].isdigit():
                expected = "bad_character"
            else:
                expected = "bad_checksum"
        else:
            expected = _USCC_EXPECTED[kind]
        expected_warning = "bad_organisation_code" if expected is None and not ok else None
        warned += expected_warning is not None
        if (
            reason != expected
            or warning != expected_warning
            or normalised != (source if expected is None else None)
        ):
            wrong[(kind, reason, warning)] += 1
    assert wrong == Counter()
    assert warned > 0
