"""The scalar USCC API: normalisation, each reason, the organisation-code warning, and the
documented difference from python-stdnum (letter registration authorities)."""

from __future__ import annotations

import pytest
from stdnum.cn import uscc as stdnum_uscc
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength

from exchange.identifiers import uscc
from exchange.identifiers.errors import (
    BadCharacter,
    BadChecksum,
    BadLength,
    IdentifierError,
    MissingValue,
    Reason,
)

STDNUM_EXAMPLE = "91110000600037341L"  # python-stdnum's doctest
# Codes of large companies, as printed on their public business licences.
PUBLIC = ["914403001922038216", "91440300708461136T", "91330100716105852F"]


def with_check(body: str) -> str:
    """``body`` (17 characters) plus its check character, computed by python-stdnum."""
    return body + stdnum_uscc.calc_check_digit(body)


def error_of(value: object) -> IdentifierError:
    with pytest.raises(IdentifierError) as caught:
        uscc.validate(value)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize("value", [STDNUM_EXAMPLE, *PUBLIC])
def test_valid_codes_as_in_stdnum(value: str):
    assert uscc.validate(value) == value == stdnum_uscc.validate(value)
    assert uscc.is_valid(value)
    assert uscc.warning(value) is None


@pytest.mark.parametrize(
    "written",
    [
        "91110000600037341l",
        "９１１１００００６０００３７３４１Ｌ",
        "9111 0000 6000 3734 1L",
        "91110000\u3000600037341L\n",
        "9111000060003734-1L",  # the organisation code written the old way
        "９１１１００００６０００３７３４１ｌ",
    ],
)
def test_normalisation(written: str):
    assert uscc.validate(written) == STDNUM_EXAMPLE
    assert uscc.format(written) == STDNUM_EXAMPLE


@pytest.mark.parametrize("authority", ["Y", "N", "A"])
def test_letter_registration_authority_is_valid_here_not_in_stdnum(authority: str):
    """Documented difference: GB 32100 allows a letter registration authority (Y 其他, N 农业,
    A ...); python-stdnum requires the first 8 characters to be digits."""
    value = with_check(authority + "1330106MA2B3C4D5")
    assert uscc.validate(value) == value
    with pytest.raises(InvalidFormat):
        stdnum_uscc.validate(value)


def test_letter_entity_category_is_valid_here():
    value = with_check("9A330106MA2B3C4D5")
    assert uscc.is_valid(value) and not stdnum_uscc.is_valid(value)


@pytest.mark.parametrize("value", [None, "", "  ", "\u3000"])
def test_missing(value: str | None):
    error = error_of(value)
    assert isinstance(error, MissingValue) and error.reason is Reason.MISSING


@pytest.mark.parametrize("value", [STDNUM_EXAMPLE[:17], STDNUM_EXAMPLE + "0", "9111"])
def test_bad_length(value: str):
    error = error_of(value)
    assert isinstance(error, BadLength) and isinstance(error, InvalidLength)
    assert error.reason is Reason.BAD_LENGTH and f"{len(value)} characters" in str(error)


@pytest.mark.parametrize(
    ("value", "position", "char", "why"),
    [
        ("9111000060003734IL", 17, "I", "alphabet"),
        ("91110000600O37341L", 12, "O", "alphabet"),
        ("S1110000600037341L", 1, "S", "alphabet"),
        ("911100006000373412", 18, "2", None),  # a digit: fine as a character, bad checksum
        ("911A0000600037341L", 4, "A", "region code"),
        ("91110000600037341Z", 18, "Z", "alphabet"),
        ("91110000600037341*", 18, "*", "alphabet"),
    ],
)
def test_bad_character(value: str, position: int, char: str, why: str | None):
    if why is None:
        assert error_of(value).reason is Reason.BAD_CHECKSUM
        return
    error = error_of(value)
    assert isinstance(error, BadCharacter) and isinstance(error, InvalidFormat)
    assert error.reason is Reason.BAD_CHARACTER and error.position == position
    assert f"character {position} is {char!r}" in str(error) and why in str(error)


@pytest.mark.parametrize(
    "value", ["91110000600037341M", "91110000600073341L", "19110000600037341L"]
)
def test_bad_checksum(value: str):
    error = error_of(value)
    assert isinstance(error, BadChecksum) and isinstance(error, InvalidChecksum)
    assert error.reason is Reason.BAD_CHECKSUM and "position 18" in str(error)
    assert not stdnum_uscc.is_valid(value)


def test_organisation_code_check():
    # 60003734-1, 19220382-1, 70846113-6: the organisation codes inside the examples
    assert uscc.calc_organisation_check_digit("60003734") == "1"
    assert uscc.calc_organisation_check_digit("19220382") == "1"
    assert uscc.calc_organisation_check_digit("70846113") == "6"
    # weights 3 7 9 10 5 8 4 2; check = 11 - sum mod 11, where 10 is X and 11 is 0
    assert uscc.calc_organisation_check_digit("00000001") == "9"  # sum 2
    assert uscc.calc_organisation_check_digit("00000030") == "X"  # sum 12 -> 10
    assert uscc.calc_organisation_check_digit("01000002") == "0"  # sum 11 -> 11
    assert uscc.calc_organisation_check_digit("00000000") == "0"  # sum 0 -> 11
    assert uscc.calc_organisation_check_digit("MA000000") == "7"  # M=22, A=10: 136 -> 11 - 4
    with pytest.raises(BadCharacter):
        uscc.calc_organisation_check_digit("6000")


def test_organisation_check_x_is_not_a_warning():
    value = with_check("9133010600000030X")  # organisation code 00000030-X
    assert uscc.validate(value) == value and uscc.warning(value) is None


def test_warning_for_a_bad_organisation_code_is_not_a_rejection():
    value = with_check("91110000600037342")  # organisation code 60003734-2 (should be -1)
    assert uscc.validate(value) == value
    assert uscc.is_valid(value)
    assert uscc.warning(value) is Reason.BAD_ORGANISATION_CODE
    with pytest.raises(BadChecksum):
        uscc.warning("91110000600037341M")  # invalid codes raise, as validate does


def test_calc_check_digit_matches_stdnum():
    for value in [STDNUM_EXAMPLE, *PUBLIC]:
        assert uscc.calc_check_digit(value) == stdnum_uscc.calc_check_digit(value) == value[-1]
    assert uscc.calc_check_digit("Y1110000600037341") == "Y"


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (STDNUM_EXAMPLE, "91110000********1L"),
        ("9111 0000 6000 3734 1l", "91110000********1L"),
        ("9111000060003734", "91110000********"),
        ("91110000600", "91110000***"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_hides_the_organisation_code_body(value: str | None, masked: str):
    assert uscc.mask(value) == masked  # type: ignore[arg-type]
