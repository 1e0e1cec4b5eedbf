"""Electronic licence identifier (电子证照标识, GB/T 36904), one value at a time.

Structure (an OID-like string of dot-separated components)::

    1.2.156.3005.2 . 11100000000013338W011 . 11430000006122244L . 20230000403 . 001 . U
    |                |                       |                    |             |     +- check
    |                |                       |                    |             +------- version
    |                |                       |                    +--------------------- serial
    |                |                       +------------------------------------------ issuer
    |                +------------------------------------------------------------------ type
    +----------------------------------------------------------------------------------- prefix

* prefix ``1.2.156.3005.2``: the OID arc GB/T 36904 assigns to electronic licences;
* licence type code (21 characters): the USCC (GB 32100) of the authority that defines the
  licence type plus a 3-digit number it assigns;
* issuer: the USCC of the issuing department;
* serial: chosen by the issuer. Ours is 11 digits, a 4-digit year and a 7-digit sequence
  (:func:`serial`, like the standard's example ``20230000403``); :func:`validate` accepts any
  1-30 characters from ``0-9A-Z`` so that identifiers issued by others validate too;
* version: 3 digits, ``001`` for the first issue; an amendment is a new version (see
  :attr:`LicenceId.series` for what all versions share);
* check character: ISO/IEC 7064 MOD 37,36 (the hybrid system over ``0-9A-Z``) computed over
  type code + issuer + serial + version concatenated, without the dots.

Checks, in order (one reason per input, see :class:`~licences.errors.LicenceIdReason`):
normalisation (NFKC, whitespace removed, upper-cased), prefix, number of components, type code,
issuer, serial, version, check character. The USCCs are checked with
:mod:`exchange.identifiers.uscc` (so a registration authority letter such as ``Y`` is accepted).

The shape follows python-stdnum (``compact``/``validate``/``is_valid``/``calc_check_digit``);
``stdnum.iso7064.mod_37_36`` is the reference the tests compare the check character with.

>>> validate('1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U')
'1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U'
>>> LicenceId.parse(' 1.2.156.3005.2.11100000000013338w011.11430000006122244L.20230000403.001.u')
LicenceId(type_code='11100000000013338W011', issuer='11430000006122244L', \
serial='20230000403', version=1)
>>> validate('1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.002.U')
Traceback (most recent call last):
    ...
licences.errors.InvalidLicenceId: check character does not match the type code, issuer, \
serial and version
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from dataclasses import dataclass

from exchange.identifiers import uscc
from licences.errors import InvalidLicenceId, LicenceIdReason

__all__ = [
    "PREFIX",
    "LicenceId",
    "calc_check_digit",
    "compact",
    "is_valid",
    "serial",
    "validate",
]

PREFIX = "1.2.156.3005.2"
#: ISO/IEC 7064 MOD 37,36: the input and check alphabet (36 characters, value = index).
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SERIAL_MAX_LENGTH = 30
_SERIAL = re.compile(r"[0-9A-Z]{1,30}")
_VERSION = re.compile(r"[0-9]{3}")
_TYPE_CODE = re.compile(r"[0-9A-Z]{18}[0-9]{3}")
_USCC = re.compile(r"[0-9A-Z]{18}")
_VALUE = {char: index for index, char in enumerate(ALPHABET)}


def _mod_37_36(value: str) -> str:
    """ISO/IEC 7064 hybrid system MOD 37,36 (M = 36): the check character of ``value``.

    ``p`` starts at M; for each character ``s = (p + value) mod M`` (0 read as M) and
    ``p = 2 s mod (M + 1)``; the check makes the final ``(p + check) mod M`` equal 1.
    """
    modulus = len(ALPHABET)
    product = modulus
    for char in value:
        total = (product + _VALUE[char]) % modulus or modulus
        product = total * 2 % (modulus + 1)
    return ALPHABET[(modulus + 1 - product) % modulus]


def calc_check_digit(type_code: str, issuer: str, serial: str, version: str) -> str:
    """The check character over type code + issuer + serial + version (normalised parts).

    >>> calc_check_digit('11100000000013338W011', '11430000006122244L', '20230000403', '001')
    'U'
    """
    body = type_code + issuer + serial + version
    bad = next((char for char in body if char not in _VALUE), None)
    if bad is not None:
        raise InvalidLicenceId(
            f"{bad!r} is not a character of a licence identifier (0-9, A-Z)",
            reason=LicenceIdReason.INVALID_FORMAT,
        )
    return _mod_37_36(body)


def compact(value: str) -> str:
    """Normalise: NFKC (full-width ``．`` and letters fold to ASCII), whitespace removed,
    upper-cased. No checks."""
    if not isinstance(value, str):
        raise InvalidLicenceId(
            f"expected text, got {type(value).__name__}", reason=LicenceIdReason.INVALID_FORMAT
        )
    return "".join(unicodedata.normalize("NFKC", value).split()).upper()


@functools.lru_cache(maxsize=4096)
def _known_uscc(value: str) -> bool:
    """`uscc.is_valid`, remembered: a store sees few issuers and licence types, and every
    identifier built or parsed checks both."""
    return uscc.is_valid(value)


def _check_type_code(type_code: str) -> None:
    if not _TYPE_CODE.fullmatch(type_code) or not _known_uscc(type_code[:18]):
        raise InvalidLicenceId(
            "licence type code must be the defining authority's USCC (18 characters) "
            "followed by 3 digits",
            reason=LicenceIdReason.INVALID_TYPE_CODE,
        )


def _check_issuer(issuer: str) -> None:
    if not _USCC.fullmatch(issuer) or not _known_uscc(issuer):
        raise InvalidLicenceId(
            "issuer must be a valid USCC (18 characters, GB 32100)",
            reason=LicenceIdReason.INVALID_ISSUER,
        )


def _check_serial(serial: str) -> None:
    if not _SERIAL.fullmatch(serial):
        raise InvalidLicenceId(
            f"serial must be 1-{SERIAL_MAX_LENGTH} characters from 0-9 and A-Z",
            reason=LicenceIdReason.INVALID_SERIAL,
        )


def _check_version(version: int) -> None:
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= 999:
        raise InvalidLicenceId("version must be 001-999", reason=LicenceIdReason.INVALID_VERSION)


@dataclass(frozen=True, order=True)
class LicenceId:
    """One version of one licence. Construction checks every component (not the check
    character, which ``str()`` computes)."""

    type_code: str
    issuer: str
    serial: str
    version: int

    def __post_init__(self) -> None:
        _check_type_code(self.type_code)
        _check_issuer(self.issuer)
        _check_serial(self.serial)
        _check_version(self.version)

    def __str__(self) -> str:
        version = f"{self.version:03d}"
        check = calc_check_digit(self.type_code, self.issuer, self.serial, version)
        return f"{self.series}.{version}.{check}"

    @property
    def series(self) -> str:
        """The identifier without version and check character: the same for every version of
        one licence, so amendments can be found by it."""
        return f"{PREFIX}.{self.type_code}.{self.issuer}.{self.serial}"

    def with_version(self, version: int) -> LicenceId:
        """The same licence at another version (``with_version(self.version + 1)`` amends)."""
        return dataclasses.replace(self, version=version)

    @classmethod
    def parse(cls, value: str) -> LicenceId:
        """Parse and validate; raises :class:`~licences.errors.InvalidLicenceId`."""
        type_code, issuer, serial_, version, _check = _components(value)
        return cls(type_code, issuer, serial_, int(version))


def _components(value: str) -> tuple[str, str, str, str, str]:
    """Validate ``value`` and return its five components after the prefix."""
    text = compact(value)
    if not text:
        raise InvalidLicenceId("no value", reason=LicenceIdReason.INVALID_FORMAT)
    if not text.startswith(PREFIX + "."):
        raise InvalidLicenceId(
            f"must start with {PREFIX}. (the GB/T 36904 licence arc)",
            reason=LicenceIdReason.INVALID_PREFIX,
        )
    parts = text[len(PREFIX) + 1 :].split(".")
    if len(parts) != 5:
        raise InvalidLicenceId(
            f"{len(parts)} components after the prefix; expected 5 "
            "(type code, issuer, serial, version, check character)",
            reason=LicenceIdReason.INVALID_FORMAT,
        )
    type_code, issuer, serial_, version, check = parts
    _check_type_code(type_code)
    _check_issuer(issuer)
    _check_serial(serial_)
    if not _VERSION.fullmatch(version):
        raise InvalidLicenceId("version must be 3 digits", reason=LicenceIdReason.INVALID_VERSION)
    _check_version(int(version))
    if len(check) != 1 or check != calc_check_digit(type_code, issuer, serial_, version):
        raise InvalidLicenceId(
            "check character does not match the type code, issuer, serial and version",
            reason=LicenceIdReason.INVALID_CHECKSUM,
        )
    return type_code, issuer, serial_, version, check


def validate(value: str) -> str:
    """Return the normalised identifier or raise :class:`~licences.errors.InvalidLicenceId`
    whose ``reason`` names the first component that is wrong."""
    return ".".join((PREFIX, *_components(value)))


def is_valid(value: str) -> bool:
    """Whether ``value`` is a valid licence identifier; never raises."""
    try:
        return bool(validate(value))
    except InvalidLicenceId:
        return False


def serial(year: int, sequence: int) -> str:
    """Our serial convention: 4-digit year + 7-digit sequence (11 digits).

    >>> serial(2023, 403)
    '20230000403'
    """
    if not 1 <= year <= 9999:
        raise ValueError("year must be 1-9999")
    if not 0 <= sequence <= 9_999_999:
        raise ValueError("sequence must be 0-9999999 (7 digits)")
    return f"{year:04d}{sequence:07d}"
