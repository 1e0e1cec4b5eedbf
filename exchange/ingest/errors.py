"""Why a batch is refused whole, and why a single row is set aside.

Two levels, because a department must be told two different things. A *refusal* means nothing of
the file was used and the whole file must be sent again (wrong encoding, wrong columns, too many
bad rows): :class:`BatchRefused` carries a :class:`RefusalReason` and a message that names what
is wrong and where (the columns, the byte offset and line, the rate against the limit). A *row
reason* means the file was used and only that row was set aside in the quarantine: the
:class:`RowReason` values are the contract with the quarantine files and with the synthetic
city's ground truth, so they are plain strings.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from exchange.identifiers.errors import Reason

__all__ = ["BatchRefused", "RefusalReason", "RowReason"]


class RefusalReason(StrEnum):
    """Why a whole batch was refused."""

    UNREADABLE = "unreadable"  # not a file of its format, or broken beyond a row
    BAD_ENCODING = "bad_encoding"  # a CSV that does not decode in its (declared) encoding
    MISSING_COLUMNS = "missing_columns"  # a required field has no column
    UNKNOWN_COLUMNS = "unknown_columns"  # a column the catalogue does not know, or one twice
    TOO_MANY_BAD_ROWS = "too_many_bad_rows"  # above the dataset's max_quarantine_rate
    EMPTY_FILE = "empty_file"  # no data rows
    UNSUPPORTED_FORMAT = "unsupported_format"  # a file extension ingest does not read
    BAD_OPERATION_COLUMN = "bad_operation_column"  # a delta batch without an operation column


class RowReason(StrEnum):
    """Why a row was set aside (one quarantine entry per failing row and field)."""

    # The key, and any other identifier field: the identifiers module's reasons, verbatim.
    MISSING = Reason.MISSING.value  # the key is empty
    BAD_LENGTH = Reason.BAD_LENGTH.value
    BAD_CHARACTER = Reason.BAD_CHARACTER.value
    BAD_CHECKSUM = Reason.BAD_CHECKSUM.value
    BAD_BIRTH_DATE = Reason.BAD_BIRTH_DATE.value
    UNKNOWN_REGION = Reason.UNKNOWN_REGION.value
    # Other fields.
    MISSING_REQUIRED = "missing_required"
    BAD_DATE = "bad_date"
    BAD_NUMBER = "bad_number"
    BAD_ENUM = "bad_enum"
    BAD_BOOLEAN = "bad_boolean"
    # The row as a whole.
    DUPLICATE_CONFLICT = "duplicate_conflict"  # same key as another row, different content
    BAD_OPERATION = "bad_operation"  # delta: neither upsert nor delete
    UNREADABLE_ROW = "unreadable_row"  # cannot be split into fields (CSV) or is not an object


class BatchRefused(Exception):
    """The batch is refused whole: nothing of it reaches the store.

    ``quarantine_parquet`` and ``quarantine_csv`` are set only for
    :attr:`RefusalReason.TOO_MANY_BAD_ROWS`, where the quarantine is what the department needs
    to correct its file; every other refusal leaves no file behind.
    """

    def __init__(
        self,
        reason: RefusalReason,
        message: str,
        *,
        quarantine_parquet: Path | None = None,
        quarantine_csv: Path | None = None,
    ) -> None:
        self.reason = RefusalReason(reason)
        self.message = message
        self.quarantine_parquet = quarantine_parquet
        self.quarantine_csv = quarantine_csv
        super().__init__(f"{self.reason}: {message}")
