"""Reason codes and validation errors shared by the resident-ID and USCC validators.

Why subclass python-stdnum's exceptions: callers that already catch
``stdnum.exceptions.ValidationError`` (or ``InvalidLength``, ``InvalidChecksum``...) keep working,
and callers that want our finer reason codes read ``error.reason``. The bulk path reports the
same :class:`Reason` values per row, so a quarantine file says the same thing whichever path
found the problem.

Messages name what is wrong and where (1-based positions, as on the card), but never quote the
number's digits: error messages end up in logs, and a resident identity number must not.
Only a character that is not allowed at all (a letter, a symbol) is quoted, with ``repr``, so that
invisible characters show.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)

__all__ = [
    "BadBirthDate",
    "BadCharacter",
    "BadChecksum",
    "BadLength",
    "IdentifierError",
    "MissingValue",
    "Reason",
    "UnknownRegion",
]


class Reason(StrEnum):
    """Why a value is not a valid identifier (or, for ``BAD_ORGANISATION_CODE``, a warning).

    The string values are the contract with ingest's quarantine files and the synth's ground
    truth; their order here is the order of the bulk path's dictionary.
    """

    MISSING = "missing"
    BAD_LENGTH = "bad_length"
    BAD_CHARACTER = "bad_character"
    BAD_CHECKSUM = "bad_checksum"
    BAD_BIRTH_DATE = "bad_birth_date"
    UNKNOWN_REGION = "unknown_region"
    #: A warning, never a rejection: the GB 11714 organisation code inside a USCC has a wrong
    #: check character (older codes were not always checked when they were assigned).
    BAD_ORGANISATION_CODE = "bad_organisation_code"


class IdentifierError(ValidationError):
    """Base of our errors: a python-stdnum ``ValidationError`` that carries a reason code.

    ``position`` is the 1-based position of the offending character (or the first position of the
    offending part) in the normalised value, or ``None`` when the problem has no single place.
    """

    reason: ClassVar[Reason]

    def __init__(self, message: str, *, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


class MissingValue(IdentifierError, InvalidLength):
    """Nothing there: ``None``, an empty string or only spaces."""

    reason = Reason.MISSING


class BadLength(IdentifierError, InvalidLength):
    """The normalised value has the wrong number of characters."""

    reason = Reason.BAD_LENGTH


class BadCharacter(IdentifierError, InvalidFormat):
    """A character that is not allowed at its position."""

    reason = Reason.BAD_CHARACTER


class BadChecksum(IdentifierError, InvalidChecksum):
    """The check character does not match the rest of the value."""

    reason = Reason.BAD_CHECKSUM


class BadBirthDate(IdentifierError, InvalidComponent):
    """The birth date is not a real date, is in the future or is before the earliest accepted."""

    reason = Reason.BAD_BIRTH_DATE


class UnknownRegion(IdentifierError, InvalidComponent):
    """The region code is not an administrative division python-stdnum knows, in any period."""

    reason = Reason.UNKNOWN_REGION
