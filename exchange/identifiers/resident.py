"""Resident identity number (公民身份号码, GB 11643-1999), one value at a time.

Structure (18 characters)::

    330106 19491231 002 X
    |      |        |   +-- check character: 0-9 or X
    |      |        +------ sequence; odd for men, even for women
    |      +--------------- birth date YYYYMMDD
    +---------------------- region code (GB/T 2260 administrative division)

The check character: multiply the first 17 digits by the weights
7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, sum, take the sum mod 11 and index ``10X98765432``
(ISO 7064 MOD 11-2). A legacy 15-digit number (region, YYMMDD, sequence; before 1999) is
upgraded by inserting ``19`` before YY and appending the check character.

Checks, in python-stdnum's order (so each input gets exactly one reason): normalisation (see
:mod:`exchange.identifiers.normalise`; a 15-digit number is upgraded), length, characters,
check character, birth date, region code. Because the check character comes before the date and
region, a mistyped digit or two swapped neighbours within positions 1-17 are always
``bad_checksum`` (MOD 11-2 catches every single substitution and adjacent transposition there).

Where we differ from ``stdnum.cn.ric`` (python-stdnum 2.2), on purpose:

* Birth date: a real date, not after ``today`` and not before :data:`EARLIEST_BIRTH_DATE`
  (1880-01-01). python-stdnum accepts any real date. Why 1880: 18-digit numbers were first
  assigned under GB 11643-1999, and the oldest verified person alive in 1999 (Sarah Knauss) was
  born in 1880, while China's 2000 census still counted about 18,000 centenarians, so a bound
  of 1900 would reject real numbers. Anything earlier is a typo (``1199...``, ``0990...``).
* Region code: known if python-stdnum's data has it in *any* period; an unknown code is
  ``unknown_region`` (python-stdnum rejects a county not in use in the birth year, and raises
  ``KeyError`` for an unknown county in a known province). See :mod:`exchange.identifiers.regions`.
* Input: 15-digit legacy numbers are upgraded, full-width characters folded, separators removed.

>>> validate('360426199101010071')
'360426199101010071'
>>> validate('１１０１０５ １９４９１２３１ ００２ｘ')
'11010519491231002X'
>>> validate('110105491231002')  # legacy 15 digits
'11010519491231002X'
>>> validate('110105194912310021')
Traceback (most recent call last):
    ...
exchange.identifiers.errors.BadChecksum: check character (position 18) does not match positions 1-17
>>> validate('110105194913310021')
Traceback (most recent call last):
    ...
exchange.identifiers.errors.BadBirthDate: birth date (positions 7-14) is not a real date
>>> validate('990105194912310023')
Traceback (most recent call last):
    ...
exchange.identifiers.errors.UnknownRegion: region code (positions 1-6) is not a known division
>>> validate('11010519491231002A')
Traceback (most recent call last):
    ...
exchange.identifiers.errors.BadCharacter: character 18 is 'A'; a check character is a digit or X
>>> mask('11010519491231002X')
'1101**********002X'
>>> get_birth_date('11010519491231002X'), get_gender('11010519491231002X')
(datetime.date(1949, 12, 31), <Gender.FEMALE: '女'>)
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from stdnum.exceptions import ValidationError

from exchange.identifiers.errors import (
    BadBirthDate,
    BadCharacter,
    BadChecksum,
    BadLength,
    MissingValue,
    UnknownRegion,
)
from exchange.identifiers.normalise import compact_text
from exchange.identifiers.regions import is_known_region

__all__ = [
    "CHECK_CHARACTERS",
    "EARLIEST_BIRTH_DATE",
    "WEIGHTS",
    "Gender",
    "calc_check_digit",
    "compact",
    "format",
    "get_birth_date",
    "get_gender",
    "is_valid",
    "mask",
    "to_18",
    "validate",
]

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"
EARLIEST_BIRTH_DATE = date(1880, 1, 1)
LENGTH = 18
LEGACY_LENGTH = 15
_DIGITS = "0123456789"


class Gender(StrEnum):
    """The gender the sequence encodes, as the datasets spell it."""

    MALE = "男"
    FEMALE = "女"


def compact(number: str) -> str:
    """Normalise: NFKC, separators removed, ``x`` upper-cased (no upgrade, no checks).

    >>> compact(' 11010519491231002x ')
    '11010519491231002X'
    """
    return compact_text(number)


def _require_digits(value: str, count: int) -> None:
    for position, char in enumerate(value[:count], start=1):
        if char not in _DIGITS:
            raise BadCharacter(
                f"character {position} is {char!r}; positions 1-{count} must be digits",
                position=position,
            )


def calc_check_digit(number: str) -> str:
    """The check character for the first 17 digits of ``number`` (17 or more characters).

    >>> calc_check_digit('11010519491231002')
    'X'
    """
    value = compact(number)
    if len(value) < LENGTH - 1:
        raise BadLength(f"{len(value)} characters; the check needs 17 digits")
    _require_digits(value, LENGTH - 1)
    return _check_character(value)


def _check_character(digits: str) -> str:
    """The check character of 17 (or more) characters already known to start with 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(digits, WEIGHTS, strict=False))
    return CHECK_CHARACTERS[total % 11]


def to_18(number: str) -> str:
    """Upgrade a 15-digit legacy number to 18 characters; an 18-character value is returned
    normalised but unchecked.

    >>> to_18('110105491231002')
    '11010519491231002X'
    """
    value = compact(number)
    if not value:
        raise MissingValue("no value")
    if len(value) == LENGTH:
        return value
    if len(value) != LEGACY_LENGTH:
        raise BadLength(f"{len(value)} characters; expected 18 (or 15 for a legacy number)")
    _require_digits(value, LEGACY_LENGTH)
    body = value[:6] + "19" + value[6:]
    return body + _check_character(body)


def _check_birth_date(value: str, today: date) -> date:
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise BadBirthDate("birth date (positions 7-14) is not a real date", position=7) from None
    if born < EARLIEST_BIRTH_DATE:
        raise BadBirthDate(
            f"birth date (positions 7-14) is before {EARLIEST_BIRTH_DATE.isoformat()}",
            position=7,
        )
    if born > today:
        raise BadBirthDate("birth date (positions 7-14) is in the future", position=7)
    return born


def validate(number: str, *, today: date | None = None) -> str:
    """Return the normalised 18-character number, or raise the error that names the problem.

    ``today`` (default: the local date) bounds the birth date; pass it for reproducible results.
    """
    value = to_18(number)
    if len(value) != LENGTH:  # pragma: no cover - to_18 guarantees it
        raise BadLength(f"{len(value)} characters; expected 18")
    _require_digits(value, LENGTH - 1)
    if value[-1] not in _DIGITS + "X":
        raise BadCharacter(
            f"character 18 is {value[-1]!r}; a check character is a digit or X",
            position=LENGTH,
        )
    if value[-1] != _check_character(value):
        raise BadChecksum(
            "check character (position 18) does not match positions 1-17", position=18
        )
    _check_birth_date(value, today or date.today())
    if not is_known_region(value[:6]):
        raise UnknownRegion("region code (positions 1-6) is not a known division", position=1)
    return value


def is_valid(number: str, *, today: date | None = None) -> bool:
    """Whether ``number`` is valid; never raises.

    >>> is_valid('360426199101010071'), is_valid('3604261991010100'), is_valid(None)
    (True, False, False)
    """
    try:
        return bool(validate(number, today=today))
    except ValidationError:
        return False


def format(number: str) -> str:
    """The standard presentation: compact, and 18 characters if it is a 15-digit legacy number.

    Does not validate (use :func:`validate`).
    """
    value = compact(number)
    if len(value) == LEGACY_LENGTH and all(char in _DIGITS for char in value):
        return to_18(value)
    return value


def mask(number: str) -> str:
    """The number for display and logs: the first 4 and last 4 characters, the rest hidden.

    The birth date (positions 7-14) is always hidden. The value is normalised first (a legacy
    number upgraded); a value shorter than 18 characters is hidden entirely, since it may be a
    truncated number whose last characters are the birth date.

    >>> mask('110105491231002')
    '1101**********002X'
    >>> mask('1101051949')
    '**********'
    """
    try:
        value = format(number)
    except ValidationError:
        return ""
    if len(value) < LENGTH:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def get_birth_date(number: str) -> date:
    """The birth date of a valid number (raises like :func:`validate` otherwise)."""
    value = validate(number)
    return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def get_gender(number: str) -> Gender:
    """The gender of a valid number: an odd sequence (position 17) is male."""
    value = validate(number)
    return Gender.MALE if int(value[16]) % 2 else Gender.FEMALE
