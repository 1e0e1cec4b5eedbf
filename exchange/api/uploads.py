"""A department's upload, received safely: a plain file name, a size limit, the right kind of file.

The file name a client sends is only a label: it must be a bare name (no folder, no ``..``, no
control characters, not hidden) with an extension ingest reads, or the upload is refused before
a byte is stored. The body is streamed to a private temporary file under the home in chunks,
counting as it goes, so an oversize upload is cut off at the limit rather than filling the disk.
The first bytes must look like the format the extension claims (an ``.xlsx`` is a ZIP, a
``.parquet`` starts with ``PAR1``, a CSV or JSON-lines file is text), so a renamed binary is
refused with a clear reason instead of failing deep inside a reader.
"""

import re
import shutil
import uuid
from pathlib import Path

from fastapi import UploadFile

from catalog.schema import FileFormat
from exchange.errors import ExchangeError, InvalidRequest
from exchange.ingest.read import FORMATS

CHUNK = 1024 * 1024
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


class UploadTooLarge(ExchangeError):
    code = "too_large"
    status = 413


def check_file_name(name: str | None) -> str:
    """The upload's file name if it is a bare, readable name; else refused naming the problem."""
    if not name or not name.strip():
        raise InvalidRequest("the upload has no file name", code="bad_file_name")
    if _BAD_NAME.search(name) or name in (".", "..") or ".." in name or name.startswith("."):
        raise InvalidRequest(
            "the file name must be a bare name: no folders, '..', control or reserved "
            "characters, and not hidden",
            code="bad_file_name",
        )
    if len(name.encode("utf-8")) > 200:
        raise InvalidRequest("the file name is longer than 200 bytes", code="bad_file_name")
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise InvalidRequest(
            f"files ending {suffix or '(no extension)'!r} are not read; "
            f"send one of {', '.join(FORMATS)}",
            code="unsupported_format",
        )
    return name


def receive(upload: UploadFile, folder: Path, *, max_bytes: int) -> Path:
    """Stream the upload into a new private folder under ``folder``; the stored file's path."""
    name = check_file_name(upload.filename)
    target_dir = folder / uuid.uuid4().hex
    target_dir.mkdir(parents=True, mode=0o700)
    target = target_dir / name
    size = 0
    try:
        with target.open("wb") as out:
            while chunk := upload.file.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLarge(
                        f"the upload is larger than the limit of {max_bytes:,} bytes",
                        limit=max_bytes,
                    )
                out.write(chunk)
        if size == 0:
            raise InvalidRequest(f"{name} is empty", code="empty_file")
        check_content(target)
    except BaseException:
        shutil.rmtree(target_dir, ignore_errors=True)
        raise
    return target


def check_content(path: Path) -> None:
    """The file's first bytes agree with the format its extension names."""
    fmt = FORMATS[path.suffix.lower()]
    with path.open("rb") as handle:
        head = handle.read(4096)
    if fmt is FileFormat.XLSX and not head.startswith(b"PK\x03\x04"):
        raise InvalidRequest(
            f"{path.name} is not an Excel workbook (.xlsx files are ZIP archives)",
            code="wrong_file_type",
        )
    if fmt is FileFormat.PARQUET and not head.startswith(b"PAR1"):
        raise InvalidRequest(f"{path.name} is not a Parquet file", code="wrong_file_type")
    if fmt in (FileFormat.CSV, FileFormat.JSONL) and (
        b"\x00" in head or head.startswith((b"PK\x03\x04", b"PAR1"))
    ):
        raise InvalidRequest(
            f"{path.name} is a binary file, not {fmt.value.upper()} text",
            code="wrong_file_type",
        )
