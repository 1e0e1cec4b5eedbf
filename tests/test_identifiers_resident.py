"""The scalar resident identity number API: each normalisation, each reason, and the documented
differences from python-stdnum, on real-looking values.

Check characters of made-up values come from python-stdnum (``with_check``), not from the code
under test.
"""

from __future__ import annotations

from datetime import date

import pytest
from stdnum.cn import ric
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)

from exchange.identifiers import resident
from exchange.identifiers.errors import (
    BadBirthDate,
    BadCharacter,
    BadChecksum,
    BadLength,
    IdentifierError,
    MissingValue,
    Reason,
    UnknownRegion,
)

TODAY = date(2025, 6, 30)
STDNUM_EXAMPLE = "360426199101010071"  # python-stdnum's doctest
GB_EXAMPLE = "11010519491231002X"  # the standard's example: 北京市朝阳区, a woman born 1949-12-31


def with_check(body: str) -> str:
    """``body`` (17 digits) plus its check character, computed by python-stdnum."""
    return body + ric.calc_check_digit(body + "0")


HANGZHOU = with_check("33010619850101123")  # 杭州市西湖区, a man born 1985-01-01


def error_of(value: object, today: date = TODAY) -> IdentifierError:
    with pytest.raises(IdentifierError) as caught:
        resident.validate(value, today=today)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize("value", [STDNUM_EXAMPLE, GB_EXAMPLE, HANGZHOU])
def test_valid_numbers_validate_to_themselves_as_in_stdnum(value: str):
    assert resident.validate(value, today=TODAY) == value
    assert resident.is_valid(value, today=TODAY)
    assert ric.validate(value) == value


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("11010519491231002x", GB_EXAMPLE),  # lower-case x
        ("１１０１０５１９４９１２３１００２Ｘ", GB_EXAMPLE),  # full-width digits and X
        ("１１０１０５１９４９１２３１００２ｘ", GB_EXAMPLE),  # full-width lower-case x
        ("110105 19491231 002X", GB_EXAMPLE),  # spaces between groups
        ("110105\u300019491231\u3000002X", GB_EXAMPLE),  # full-width (ideographic) spaces
        (" 11010519491231002X\t\r\n", GB_EXAMPLE),  # surrounding whitespace
        ("110105\u00a019491231\u200b002X\ufeff", GB_EXAMPLE),  # no-break, zero-width, BOM
        ("110105-19491231-002X", GB_EXAMPLE),  # hyphens
        ("110105491231002", GB_EXAMPLE),  # legacy 15 digits: 19 inserted, check appended
        ("１１０１０５ ４９１２３１ ００２", GB_EXAMPLE),  # legacy, full-width, spaced
    ],
)
def test_normalisation(written: str, normalised: str):
    assert resident.validate(written, today=TODAY) == normalised
    assert resident.format(written) == normalised


def test_compact_does_not_upgrade_and_format_does():
    assert resident.compact(" 110105 491231 002") == "110105491231002"
    assert resident.format(" 110105 491231 002") == GB_EXAMPLE
    assert resident.to_18("110105491231002") == GB_EXAMPLE
    assert resident.to_18(GB_EXAMPLE.lower()) == GB_EXAMPLE


def test_legacy_upgrade_uses_stdnum_check():
    legacy = "330106850101123"
    assert resident.to_18(legacy) == with_check("33010619850101123")


@pytest.mark.parametrize("value", [None, "", "   ", "\u3000\t", "\u200b"])
def test_missing(value: str | None):
    error = error_of(value)
    assert isinstance(error, MissingValue) and isinstance(error, InvalidLength)
    assert error.reason is Reason.MISSING
    assert not resident.is_valid(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "length"),
    [(GB_EXAMPLE[:17], 17), (GB_EXAMPLE + "1", 19), (GB_EXAMPLE[:16], 16), ("１２３", 3)],
)
def test_bad_length_names_the_length(value: str, length: int):
    error = error_of(value)
    assert isinstance(error, BadLength) and isinstance(error, InvalidLength)
    assert error.reason is Reason.BAD_LENGTH
    assert f"{length} characters" in str(error)


@pytest.mark.parametrize(
    ("value", "position", "char"),
    [
        ("1101A519491231002X", 5, "A"),
        ("110105194912310O2X", 16, "O"),
        ("11010519491231002A", 18, "A"),  # the check character is a digit or X
        ("X1010519491231002X", 1, "X"),  # X only as the check character
        ("11010519491231002*", 18, "*"),
        ("1101051949123100٢X", 17, "٢"),  # an Arabic-Indic digit is not a digit here
        ("11010549123100A", 15, "A"),  # a 15-character legacy number with a letter
        ("110105\ud80019491231", 7, "\ud800"),  # a lone surrogate
    ],
)
def test_bad_character_names_position_and_character(value: str, position: int, char: str):
    error = error_of(value)
    assert isinstance(error, BadCharacter) and isinstance(error, InvalidFormat)
    assert error.reason is Reason.BAD_CHARACTER
    assert error.position == position
    assert f"character {position} " in str(error) and repr(char) in str(error)


def test_non_text_is_a_bad_character():
    error = error_of(110105194912310021)
    assert error.reason is Reason.BAD_CHARACTER and "int" in str(error)


@pytest.mark.parametrize(
    "value",
    [
        GB_EXAMPLE[:17] + "1",  # wrong check character
        "11010519491231020X",  # two digits swapped
        "11010519491231003X",  # one digit changed
    ],
)
def test_bad_checksum(value: str):
    error = error_of(value)
    assert isinstance(error, BadChecksum) and isinstance(error, InvalidChecksum)
    assert error.reason is Reason.BAD_CHECKSUM and error.position == 18
    assert "position 18" in str(error)
    with pytest.raises(InvalidChecksum):
        ric.validate(value)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("11010519491301002", "not a real date"),  # month 13
        ("11010519490001002", "not a real date"),  # month 0
        ("11010519491200002", "not a real date"),  # day 0
        ("11010519491232002", "not a real date"),
        ("11010519490230002", "not a real date"),
        ("11010519000229002", "not a real date"),  # 1900 is not a leap year
        ("11010518791231002", "before 1880-01-01"),
        ("11010520250701002", "in the future"),  # the day after TODAY
    ],
)
def test_bad_birth_date(body: str, problem: str):
    value = with_check(body)
    error = error_of(value)
    assert isinstance(error, BadBirthDate) and isinstance(error, InvalidComponent)
    assert error.reason is Reason.BAD_BIRTH_DATE and error.position == 7
    assert "positions 7-14" in str(error) and problem in str(error)
    assert body[6:14] not in str(error)  # never quote the birth date


@pytest.mark.parametrize("body", ["11010520000229002", "11010518800101002", "11010520250630002"])
def test_birth_date_bounds_are_inclusive(body: str):
    """A leap day in 2000, the earliest accepted date and today itself are valid."""
    assert resident.is_valid(with_check(body), today=TODAY)


def test_future_is_relative_to_today():
    value = with_check("11010520250701002")
    assert not resident.is_valid(value, today=TODAY)
    assert resident.is_valid(value, today=date(2025, 7, 1))


def test_stdnum_accepts_the_birth_dates_we_reject():
    """Documented difference: python-stdnum only checks that the date is real."""
    assert ric.is_valid(with_check("11010520990101002"))  # future
    assert ric.is_valid(with_check("11010518790101002"))  # before 1880


@pytest.mark.parametrize("body", ["33019919800101001", "99010519491231002", "71010019800101001"])
def test_unknown_region(body: str):
    error = error_of(with_check(body))
    assert isinstance(error, UnknownRegion) and isinstance(error, InvalidComponent)
    assert error.reason is Reason.UNKNOWN_REGION and error.position == 1
    assert "positions 1-6" in str(error)


def test_unknown_county_in_known_province_raises_keyerror_in_stdnum_not_here():
    """Documented edge (a) of python-stdnum 2.2: KeyError escapes ``ric.is_valid``."""
    value = with_check("33019919800101001")  # 浙江省, no county 330199
    with pytest.raises(KeyError):
        ric.is_valid(value)
    assert resident.is_valid(value, today=TODAY) is False
    assert error_of(value).reason is Reason.UNKNOWN_REGION


def test_region_code_valid_in_any_period():
    """Documented edge (b): 西湖区 330106 exists from 1983; someone born in 1950 may carry it."""
    value = with_check("33010619500101001")
    with pytest.raises(InvalidComponent):
        ric.validate(value)
    assert resident.validate(value, today=TODAY) == value


def test_reasons_follow_stdnum_order():
    """A value that is wrong in several ways gets the first reason: characters before the
    check, the check before the date, the date before the region."""
    assert error_of("1101A519491331002X").reason is Reason.BAD_CHARACTER
    assert error_of("99010519491331002X").reason is Reason.BAD_CHECKSUM
    assert error_of(with_check("99010519491331002")).reason is Reason.BAD_BIRTH_DATE


def test_errors_are_stdnum_errors():
    with pytest.raises(ValidationError):
        resident.validate("x")
    assert issubclass(BadLength, InvalidLength) and issubclass(BadChecksum, InvalidChecksum)


def test_calc_check_digit_matches_stdnum():
    assert resident.calc_check_digit("11010519491231002") == "X"
    assert resident.calc_check_digit(GB_EXAMPLE) == "X"
    assert resident.calc_check_digit(STDNUM_EXAMPLE) == ric.calc_check_digit(STDNUM_EXAMPLE)
    with pytest.raises(BadLength):
        resident.calc_check_digit("1101051949")
    with pytest.raises(BadCharacter):
        resident.calc_check_digit("1101051949123100A")


def test_birth_date_and_gender():
    assert resident.get_birth_date(GB_EXAMPLE) == date(1949, 12, 31)
    assert resident.get_gender(GB_EXAMPLE) is resident.Gender.FEMALE  # sequence 002
    assert resident.get_gender(HANGZHOU) is resident.Gender.MALE  # sequence 123
    assert resident.get_gender(HANGZHOU) == "男"
    assert resident.get_birth_date("110105491231002") == date(1949, 12, 31)
    with pytest.raises(BadChecksum):
        resident.get_birth_date("11010519491231003X")


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (GB_EXAMPLE, "1101**********002X"),
        ("3301 0619 8501 0112 3X", "3301**********123X"),  # masking does not validate
        ("110105491231002", "1101**********002X"),  # upgraded first
        ("11010519491231002", "*" * 17),  # too short: could be a truncated number
        ("1101051949", "*" * 10),
        (GB_EXAMPLE + "99", "1101************2X99"),  # the date cannot reach the last 4
        ("", ""),
        (None, ""),
    ],
)
def test_mask(value: str | None, masked: str):
    assert resident.mask(value) == masked  # type: ignore[arg-type]
