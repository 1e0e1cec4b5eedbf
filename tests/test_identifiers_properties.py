"""Properties over arbitrary and near-valid input: the scalar and bulk paths agree on every
input, ``is_valid`` never raises, ``validate`` raises only python-stdnum errors carrying a reason,
and masking never reveals a birth date."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric
from stdnum.cn import uscc as stdnum_uscc
from stdnum.exceptions import ValidationError

from exchange.identifiers import resident, uscc
from exchange.identifiers.bulk import BulkResult, validate_resident, validate_uscc
from exchange.identifiers.errors import IdentifierError, Reason
from exchange.identifiers.regions import region_codes

TODAY = date(2025, 6, 30)
REGIONS = sorted(region_codes())
# Characters that normalisation folds, removes or must reject.
TRICKY = [
    *"0123456789Xx -\t\n\r\x0b\x0c*#AIOSVZ٣²①ß",
    "\u3000",
    "\u00a0",
    "\u200b",
    "\ufeff",
    "\u2013",
    "０",
    "９",
    "Ｘ",
    "ｘ",
    "Ｍ",
    "ａ",
    "\U0001ccf5",  # OUTLINED DIGIT FIVE: NFKC "5" in newer Unicode than Python 3.11's
]
# Arrow holds UTF-8 only, so no lone surrogates (the scalar path rejects those: see the unit tests)
texts = st.text(
    alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from(TRICKY)), max_size=40
)


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@st.composite
def written(draw: st.DrawFn, canonical: str) -> str:
    """``canonical`` as a person might write it: full-width, lower-case, with separators."""
    text = canonical
    if draw(st.booleans()):
        text = text.lower()
    if draw(st.booleans()):
        text = full_width(text)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from([" ", "\u3000", "-", "\t", "\u200b"])) + text[at:]
    return text


@st.composite
def corrupted(draw: st.DrawFn, canonical: str) -> str:
    """A few edits: substitute, insert, delete or swap characters."""
    text = canonical
    for _ in range(draw(st.integers(0, 2))):
        edit = draw(st.sampled_from(["substitute", "insert", "delete", "swap"]))
        at = draw(st.integers(0, max(len(text) - 2, 0)))
        char = draw(st.sampled_from(TRICKY))
        if edit == "substitute":
            text = text[:at] + char + text[at + 1 :]
        elif edit == "insert":
            text = text[:at] + char + text[at:]
        elif edit == "delete":
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + text[at + 1 : at + 2] + text[at : at + 1] + text[at + 2 :]
    return draw(written(text))


@st.composite
def resident_numbers(draw: st.DrawFn) -> str:
    """A valid-looking number (check character from python-stdnum), possibly with a date out of
    range or not real."""
    region = draw(st.one_of(st.sampled_from(REGIONS), st.from_regex(r"\A[0-9]{6}\Z")))
    born = draw(st.dates(date(1850, 1, 1), date(2100, 12, 31))).strftime("%Y%m%d")
    if draw(st.integers(0, 9)) == 0:
        born = draw(st.from_regex(r"\A[0-9]{8}\Z"))
    body = region + born + f"{draw(st.integers(0, 999)):03d}"
    number = body + ric.calc_check_digit(body + "0")
    if born.startswith("19") and draw(st.integers(0, 4)) == 0:
        number = number[:6] + number[8:17]  # the legacy form
    return number


@st.composite
def uscc_codes(draw: st.DrawFn) -> str:
    alphabet = uscc.ALPHABET
    body = (
        draw(st.sampled_from("159YNA"))
        + draw(st.sampled_from("1234"))
        + draw(st.sampled_from(REGIONS))
        + draw(st.text(alphabet=alphabet, min_size=8, max_size=8))
        + draw(st.sampled_from("0123456789X"))
    )
    return body + stdnum_uscc.calc_check_digit(body)


near_residents = resident_numbers().flatmap(corrupted)
near_usccs = uscc_codes().flatmap(corrupted)


def scalar_resident(value: str | None) -> tuple[str | None, str | None, None]:
    try:
        return resident.validate(value, today=TODAY), None, None  # type: ignore[arg-type]
    except IdentifierError as error:
        return None, error.reason.value, None


def scalar_uscc(value: str | None) -> tuple[str | None, str | None, str | None]:
    try:
        normalised = uscc.validate(value)  # type: ignore[arg-type]
    except IdentifierError as error:
        return None, error.reason.value, None
    warning = uscc.warning(normalised)
    return normalised, None, warning.value if warning else None


def bulk_rows(result: BulkResult) -> list[tuple]:
    columns = (result.normalised, result.reason, result.warning)
    return list(zip(*(column.to_pylist() for column in columns), strict=True))


def assert_paths_agree(values: list[str | None]) -> None:
    array = pa.array(values, pa.string())
    assert bulk_rows(validate_resident(array, today=TODAY)) == [scalar_resident(v) for v in values]
    assert bulk_rows(validate_uscc(array)) == [scalar_uscc(v) for v in values]


@settings(deadline=None)
@given(st.lists(st.one_of(st.none(), texts), max_size=20))
def test_scalar_and_bulk_agree_on_any_text(values: list[str | None]):
    assert_paths_agree(values)


@settings(deadline=None, max_examples=300)
@given(st.lists(st.one_of(near_residents, near_usccs), min_size=1, max_size=20))
def test_scalar_and_bulk_agree_on_near_valid_values(values: list[str]):
    assert_paths_agree(values)


@settings(deadline=None, max_examples=200)
@given(resident_numbers().flatmap(written))
def test_writing_variants_validate_like_the_canonical_form(value: str):
    canonical = resident.format(value.replace("\u200b", ""))
    assert resident.is_valid(value, today=TODAY) == resident.is_valid(canonical, today=TODAY)


junk = st.one_of(
    texts,
    st.text(),  # may hold lone surrogates
    st.none(),
    st.integers(),
    st.floats(),
    st.binary(),
    st.lists(st.text(max_size=3), max_size=3),
    near_residents,
    near_usccs,
)


@given(junk)
def test_is_valid_and_mask_never_raise(value: object):
    for module in (resident, uscc):
        assert module.is_valid(value) in (True, False)  # type: ignore[arg-type]
        assert isinstance(module.mask(value), str)  # type: ignore[arg-type]


@given(st.one_of(texts, st.text(), st.none(), st.integers(), near_residents, near_usccs))
def test_validate_raises_only_stdnum_errors_with_a_reason(value: object):
    for module in (resident, uscc):
        try:
            module.validate(value)  # type: ignore[arg-type]
        except ValidationError as error:
            assert isinstance(error, IdentifierError)
            assert error.reason in set(Reason) - {Reason.BAD_ORGANISATION_CODE}
            assert str(error)


@given(resident_numbers().flatmap(written))
def test_mask_hides_the_birth_date_of_numbers(value: str):
    canonical = resident.format(value.replace("\u200b", ""))
    masked = resident.mask(value)
    assert masked == canonical[:4] + "*" * 10 + canonical[-4:]
    assert canonical[6:14] not in masked


@given(st.one_of(near_residents, texts))
def test_mask_never_shows_more_than_four_characters_in_a_row(value: str):
    """A birth date is 8 characters: a mask that never shows more than 4 in a row, and at most
    8 in all, cannot reveal one, whatever the input."""
    masked = resident.mask(value)
    visible = [part for part in masked.split("*") if part]
    assert all(len(part) <= 4 for part in visible)
    assert sum(map(len, visible)) <= 8
