"""Unified Social Credit Code (统一社会信用代码, GB 32100-2015), one value at a time.

Structure (18 characters from ``0123456789ABCDEFGHJKLMNPQRTUWXY``: no I, O, S, V, Z)::

    9 1 330106 MA2B3C4D 5 R
    | | |      |        | +-- check character (GB 32100)
    | | |      |        +---- organisation code check character (GB 11714): 0-9 or X
    | | |      +------------- organisation code body (GB 11714)
    | | +-------------------- region code of the registration authority (GB/T 2260), digits
    | +---------------------- entity category within the authority (e.g. 1 company, 2 individual)
    +------------------------ registration authority: 1 机构编制, 5 民政, 9 工商 (market
                              regulation), Y 其他, and letters added since (e.g. A, N)

The check character: values are indexes into the alphabet; multiply the first 17 by the weights
1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28; the check value is (31 - sum mod 31) mod 31.
It catches every single substitution and every adjacent transposition.

The embedded GB 11714 organisation code (positions 9-17) has its own check: digits count as
0-9 and letters as A=10 ... Z=35, weights 3 7 9 10 5 8 4 2 on positions 9-16, check
= 11 - sum mod 11, where 10 is written X and 11 is written 0. A wrong organisation-code check is
a *warning* (``bad_organisation_code``, from :func:`warning`), not a rejection: codes issued
before the organisation code was verified at registration exist and are legally valid.

Checks, in order (one reason per input): normalisation (see :mod:`exchange.identifiers.normalise`;
lower-case letters are upper-cased), length, characters, check character.

Where we differ from ``stdnum.cn.uscc`` (python-stdnum 2.2), on purpose: python-stdnum requires
the first 8 characters to be digits; GB 32100 (and its amendments) allows a letter as the
registration authority (``Y`` 其他, ``A``, ``N`` ...) and as the entity category, so we accept an
alphabet character at positions 1-2 and require digits only for the region code (positions 3-8).

>>> validate('91110000600037341L')
'91110000600037341L'
>>> validate('9111 0000 6000 3734 1l')
'91110000600037341L'
>>> validate('Y1110000600037341Y')  # registration authority Y (python-stdnum rejects it)
'Y1110000600037341Y'
>>> validate('91110000600037341M')
Traceback (most recent call last):
    ...
exchange.identifiers.errors.BadChecksum: check character (position 18) does not match positions 1-17
>>> validate('9111000060003734IL')
Traceback (most recent call last):
    ...
exchange.identifiers.errors.BadCharacter: character 17 is 'I'; not in the USCC alphabet
>>> warning('91110000600037341L') is None, warning('91110000600037342P')
(True, <Reason.BAD_ORGANISATION_CODE: 'bad_organisation_code'>)
>>> mask('91110000600037341L')
'91110000********1L'
"""

from __future__ import annotations

from stdnum.exceptions import ValidationError

from exchange.identifiers.errors import BadCharacter, BadChecksum, BadLength, MissingValue, Reason
from exchange.identifiers.normalise import compact_text

__all__ = [
    "ALPHABET",
    "ORGANISATION_WEIGHTS",
    "WEIGHTS",
    "calc_check_digit",
    "calc_organisation_check_digit",
    "compact",
    "format",
    "is_valid",
    "mask",
    "validate",
    "warning",
]

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORGANISATION_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
LENGTH = 18
#: 0-based slice of the region code, which must be digits.
REGION = slice(2, 8)
#: 0-based slice of the GB 11714 organisation code (body and its check character).
ORGANISATION_CODE = slice(8, 17)
_DIGITS = "0123456789"
_VALUE = {char: index for index, char in enumerate(ALPHABET)}


def compact(number: str) -> str:
    """Normalise: NFKC, separators removed, letters upper-cased (no checks)."""
    return compact_text(number)


def _check_characters(value: str) -> None:
    for position, char in enumerate(value, start=1):
        if REGION.start < position <= REGION.stop:
            if char not in _DIGITS:
                raise BadCharacter(
                    f"character {position} is {char!r}; the region code (positions 3-8) "
                    "must be digits",
                    position=position,
                )
        elif char not in ALPHABET:
            raise BadCharacter(
                f"character {position} is {char!r}; not in the USCC alphabet", position=position
            )


def calc_check_digit(number: str) -> str:
    """The check character for the first 17 characters of ``number`` (17 or more).

    >>> calc_check_digit('91110000600037341')
    'L'
    """
    value = compact(number)
    if len(value) < LENGTH - 1:
        raise BadLength(f"{len(value)} characters; the check needs 17")
    _check_characters(value[: LENGTH - 1])
    return _check_character(value)


def _check_character(value: str) -> str:
    """The check character of 17 (or more) characters already known to be in the alphabet."""
    total = sum(_VALUE[char] * weight for char, weight in zip(value, WEIGHTS, strict=False))
    return ALPHABET[(31 - total % 31) % 31]


def calc_organisation_check_digit(code: str) -> str:
    """The GB 11714 check character for an organisation code body (its first 8 characters).

    >>> calc_organisation_check_digit('60003734')
    '1'
    """
    body = compact(code)[:8]
    if len(body) != 8 or any(char not in ALPHABET for char in body):
        raise BadCharacter("an organisation code body is 8 digits or letters")
    weighted = zip(body, ORGANISATION_WEIGHTS, strict=True)
    total = sum(int(char, 36) * weight for char, weight in weighted)
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def validate(number: str) -> str:
    """Return the normalised code, or raise the error that names the problem.

    The organisation code check is not part of validity: see :func:`warning`.
    """
    value = compact(number)
    if not value:
        raise MissingValue("no value")
    if len(value) != LENGTH:
        raise BadLength(f"{len(value)} characters; expected 18")
    _check_characters(value)
    if value[-1] != _check_character(value):
        raise BadChecksum(
            "check character (position 18) does not match positions 1-17", position=18
        )
    return value


def warning(number: str) -> Reason | None:
    """``Reason.BAD_ORGANISATION_CODE`` if the embedded GB 11714 organisation code (positions
    9-17) has a wrong check character, else ``None``. Raises like :func:`validate` for an invalid
    code."""
    value = validate(number)
    organisation = value[ORGANISATION_CODE]
    if organisation[-1] != calc_organisation_check_digit(organisation):
        return Reason.BAD_ORGANISATION_CODE
    return None


def is_valid(number: str) -> bool:
    """Whether ``number`` is valid (warnings do not count); never raises."""
    try:
        return bool(validate(number))
    except ValidationError:
        return False


def format(number: str) -> str:
    """The standard presentation: the compact form (does not validate)."""
    return compact(number)


def mask(number: str) -> str:
    """The code for display and logs: positions 9-16 (the organisation code body, which names
    the entity) hidden; the authority, category and region (positions 1-8, a classification, not
    an identity) and the two check characters (17-18, enough to tell codes apart in a log) shown.

    A USCC is public on every business licence, so this is discretion rather than secrecy; it
    matters for individual businesses (个体工商户), whose code stands for a person.

    >>> mask('9111000060003734')
    '91110000********'
    """
    try:
        value = compact(number)
    except ValidationError:
        return ""
    if len(value) <= 8:  # not a code at all, and perhaps something else: show nothing of it
        return "*" * len(value)
    return value[:8] + "*" * len(value[8:16]) + value[16:]
