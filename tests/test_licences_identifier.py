"""GB/T 36904 licence identifiers: the standard's example, python-stdnum's MOD 37,36 as the
reference for the check character, round trips and every rejection reason."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.iso7064 import mod_37_36

from exchange.identifiers import uscc
from licences import identifier
from licences.errors import InvalidLicenceId, LicenceError, LicenceIdReason
from licences.identifier import PREFIX, LicenceId

EXAMPLE = "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U"
TYPE_CODE = "11100000000013338W011"
ISSUER = "11430000006122244L"


@st.composite
def usccs(draw: st.DrawFn) -> str:
    """Valid USCCs: alphabet characters except digits in the region code, then the check."""
    letters = st.sampled_from(uscc.ALPHABET)
    digits = st.sampled_from("0123456789")
    body = "".join(
        [draw(letters) for _ in range(2)]
        + [draw(digits) for _ in range(6)]
        + [draw(letters) for _ in range(9)]
    )
    return body + uscc.calc_check_digit(body)


licence_ids = st.builds(
    LicenceId,
    type_code=st.builds(lambda code, number: code + f"{number:03d}", usccs(), st.integers(0, 999)),
    issuer=usccs(),
    serial=st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=30),
    version=st.integers(1, 999),
)


def test_the_standards_example_validates_and_parses() -> None:
    assert identifier.validate(EXAMPLE) == EXAMPLE
    assert identifier.is_valid(EXAMPLE)
    parsed = LicenceId.parse(EXAMPLE)
    assert parsed == LicenceId(TYPE_CODE, ISSUER, "20230000403", 1)
    assert str(parsed) == EXAMPLE
    assert parsed.series == f"{PREFIX}.{TYPE_CODE}.{ISSUER}.20230000403"


def test_example_check_character_agrees_with_stdnum() -> None:
    body = TYPE_CODE + ISSUER + "20230000403" + "001"
    assert identifier.calc_check_digit(TYPE_CODE, ISSUER, "20230000403", "001") == "U"
    assert mod_37_36.calc_check_digit(body) == "U"


def test_module_doctests_pass() -> None:
    assert doctest.testmod(identifier).failed == 0


@given(licence_ids)
def test_check_character_agrees_with_stdnum(licence: LicenceId) -> None:
    body = licence.type_code + licence.issuer + licence.serial + f"{licence.version:03d}"
    check = str(licence)[-1]
    assert check == mod_37_36.calc_check_digit(body)
    assert mod_37_36.is_valid(body + check)


@given(licence_ids)
def test_parse_inverts_str(licence: LicenceId) -> None:
    assert LicenceId.parse(str(licence)) == licence
    assert identifier.validate(str(licence)) == str(licence)


@given(licence_ids, st.data())
def test_any_single_substitution_is_rejected(licence: LicenceId, data: st.DataObject) -> None:
    text = str(licence)
    positions = [i for i, char in enumerate(text) if char != "." and i >= len(PREFIX)]
    position = data.draw(st.sampled_from(positions))
    replacement = data.draw(
        st.sampled_from(identifier.ALPHABET).filter(lambda char: char != text[position])
    )
    mutated = text[:position] + replacement + text[position + 1 :]
    assert not identifier.is_valid(mutated)


@given(licence_ids)
def test_versions_share_a_series(licence: LicenceId) -> None:
    later = licence.with_version(licence.version % 999 + 1)
    assert later.series == licence.series
    assert str(later).startswith(licence.series + ".")
    assert (later.version > licence.version) == (later > licence)


def test_input_is_normalised() -> None:
    messy = "  1.2.156.3005.2.11100000000013338w011.11430000006122244l . 20230000403.001.u\n"
    assert identifier.validate(messy) == EXAMPLE
    full_width = EXAMPLE.replace(".", "．").replace("U", "ｕ")
    assert identifier.validate(full_width) == EXAMPLE
    assert identifier.compact(" a b\tc ") == "ABC"


def _with(part: int, value: str) -> str:
    parts = EXAMPLE.split(".")
    parts[5 + part] = value
    return ".".join(parts)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", LicenceIdReason.INVALID_FORMAT),
        ("   ", LicenceIdReason.INVALID_FORMAT),
        (EXAMPLE.replace("3005.2", "3005.3"), LicenceIdReason.INVALID_PREFIX),
        (EXAMPLE.removeprefix("1.2.156.3005.2."), LicenceIdReason.INVALID_PREFIX),
        (EXAMPLE.removesuffix(".U"), LicenceIdReason.INVALID_FORMAT),
        (EXAMPLE + ".X", LicenceIdReason.INVALID_FORMAT),
        (_with(0, "11100000000013338W01"), LicenceIdReason.INVALID_TYPE_CODE),
        (_with(0, "11100000000013338X011"), LicenceIdReason.INVALID_TYPE_CODE),  # bad USCC
        (_with(0, "11100000000013338W0A1"), LicenceIdReason.INVALID_TYPE_CODE),
        (_with(1, "11430000006122244M"), LicenceIdReason.INVALID_ISSUER),
        (_with(1, "1143000000612224L"), LicenceIdReason.INVALID_ISSUER),
        (_with(2, ""), LicenceIdReason.INVALID_SERIAL),
        (_with(2, "2023-0403"), LicenceIdReason.INVALID_SERIAL),
        (_with(2, "1" * 31), LicenceIdReason.INVALID_SERIAL),
        (_with(3, "01"), LicenceIdReason.INVALID_VERSION),
        (_with(3, "000"), LicenceIdReason.INVALID_VERSION),
        (_with(3, "00A"), LicenceIdReason.INVALID_VERSION),
        (_with(3, "002"), LicenceIdReason.INVALID_CHECKSUM),
        (_with(4, "V"), LicenceIdReason.INVALID_CHECKSUM),
        (_with(4, "UU"), LicenceIdReason.INVALID_CHECKSUM),
        (_with(4, ""), LicenceIdReason.INVALID_CHECKSUM),
        (_with(4, "*"), LicenceIdReason.INVALID_CHECKSUM),
    ],
)
def test_every_reason(value: str, reason: LicenceIdReason) -> None:
    with pytest.raises(InvalidLicenceId) as caught:
        identifier.validate(value)
    assert caught.value.reason == reason
    assert caught.value.code == "invalid_licence_id"
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, LicenceError)
    assert str(caught.value)  # a message that names the problem
    assert not identifier.is_valid(value)


def test_non_text_is_invalid_format() -> None:
    with pytest.raises(InvalidLicenceId) as caught:
        identifier.validate(12345)  # type: ignore[arg-type]
    assert caught.value.reason == LicenceIdReason.INVALID_FORMAT
    assert not identifier.is_valid(None)  # type: ignore[arg-type]


@given(st.text())
def test_is_valid_never_raises(value: str) -> None:
    assert identifier.is_valid(value) in (True, False)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"type_code": "11100000000013338w011"}, LicenceIdReason.INVALID_TYPE_CODE),
        ({"issuer": "11430000006122244l"}, LicenceIdReason.INVALID_ISSUER),
        ({"serial": "a1"}, LicenceIdReason.INVALID_SERIAL),
        ({"version": 0}, LicenceIdReason.INVALID_VERSION),
        ({"version": 1000}, LicenceIdReason.INVALID_VERSION),
        ({"version": True}, LicenceIdReason.INVALID_VERSION),
    ],
)
def test_constructor_checks_components(kwargs: dict[str, object], reason: LicenceIdReason) -> None:
    fields: dict[str, object] = {
        "type_code": TYPE_CODE,
        "issuer": ISSUER,
        "serial": "20230000403",
        "version": 1,
    }
    with pytest.raises(InvalidLicenceId) as caught:
        LicenceId(**(fields | kwargs))  # type: ignore[arg-type]
    assert caught.value.reason == reason


def test_serial_convention() -> None:
    assert identifier.serial(2023, 403) == "20230000403"
    assert identifier.serial(2024, 9_999_999) == "20249999999"
    assert len(identifier.serial(1, 0)) == 11
    for year, sequence in [(0, 1), (10_000, 1), (2024, -1), (2024, 10_000_000)]:
        with pytest.raises(ValueError):
            identifier.serial(year, sequence)
