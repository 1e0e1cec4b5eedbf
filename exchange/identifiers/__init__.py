"""Subject identifiers: the resident identity number (GB 11643-1999) and the unified social
credit code (GB 32100-2015).

Two paths that agree exactly (tests hold them to each other and to python-stdnum):

* one value at a time, in python-stdnum's shape: :mod:`exchange.identifiers.resident` and
  :mod:`exchange.identifiers.uscc` (``compact``, ``validate``, ``is_valid``, ``format``,
  ``calc_check_digit``, ``mask``, ...);
* a whole column at once, without a Python loop per row: :mod:`exchange.identifiers.bulk`
  (``validate_resident``, ``validate_uscc`` -> ``BulkResult``).

Both report the same :class:`Reason` codes; errors subclass python-stdnum's exceptions.
"""

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
