"""Which character encoding a text file is in, found by streaming through it in chunks.

Departments send UTF-8, UTF-8 with a byte-order mark (Excel's "CSV UTF-8"), GBK (Excel's "CSV"
on a Chinese Windows) or GB18030. When the catalogue declares the encoding, the file must decode
in it; when it does not, detection is:

1. a UTF-8 byte-order mark: ``utf-8-sig``;
2. the whole file decodes as strict UTF-8: ``utf-8`` (GBK text almost never does: its two-byte
   sequences rarely form valid UTF-8, and a file that is pure ASCII is both);
3. the whole file decodes as GB18030: ``gb18030`` (a superset of GBK, so GBK files are read
   correctly too);
4. otherwise the file is refused ``bad_encoding``.

Every check streams the file through an incremental decoder in chunks of :data:`CHUNK` bytes:
memory stays bounded however large the file, and when decoding fails the exact byte offset and
line of the first undecodable sequence are known, so the refusal can say where to look.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from exchange.ingest.errors import BatchRefused, RefusalReason

__all__ = [
    "SUPPORTED",
    "Undecodable",
    "canonical_encoding",
    "detect_encoding",
    "first_undecodable",
    "refuse_undecodable",
]

CHUNK = 1 << 20
UTF8_BOM = codecs.BOM_UTF8
#: The encodings ingest reads, by their canonical (catalogue) names.
SUPPORTED = ("utf-8", "utf-8-sig", "gbk", "gb18030")


@dataclass(frozen=True)
class Undecodable:
    """Where decoding failed: 0-based byte offset, 1-based line, the offending bytes."""

    offset: int
    line: int
    bytes: bytes

    def describe(self) -> str:
        shown = " ".join(f"0x{byte:02x}" for byte in self.bytes[:4])
        return f"bytes {shown} at byte offset {self.offset:,} (line {self.line:,})"


def canonical_encoding(name: str) -> str:
    """The catalogue's name for an encoding given by any of Python's names (``UTF8``, ``cp936``,
    ``GB18030``...); refuses one ingest does not read."""
    try:
        python_name = codecs.lookup(name).name
    except LookupError:
        python_name = name
    canonical = {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "gbk": "gbk", "gb18030": "gb18030"}
    if python_name not in canonical:
        raise BatchRefused(
            RefusalReason.BAD_ENCODING,
            f"encoding {name!r} is not supported; use one of {', '.join(SUPPORTED)}",
        )
    return canonical[python_name]


def first_undecodable(path: Path, encoding: str) -> Undecodable | None:
    """The first byte sequence of the file that does not decode in ``encoding``, if any."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0  # bytes of the file before the current chunk
    lines = 1  # line at the start of the current chunk
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(CHUNK)
            pending = decoder.getstate()[0]
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                data = pending + chunk
                return Undecodable(
                    offset=offset - len(pending) + exc.start,
                    line=lines + data.count(b"\n", len(pending), exc.start),
                    bytes=data[exc.start : exc.end],
                )
            if not chunk:
                return None
            # Pending bytes are an incomplete multi-byte sequence: never a newline.
            lines += chunk.count(b"\n")
            offset += len(chunk)


def detect_encoding(path: Path) -> str:
    """The encoding of a text file whose encoding is not declared (see the module docstring)."""
    with path.open("rb") as handle:
        if handle.read(len(UTF8_BOM)) == UTF8_BOM:
            return "utf-8-sig"
    not_utf8 = first_undecodable(path, "utf-8")
    if not_utf8 is None:
        return "utf-8"
    not_gb18030 = first_undecodable(path, "gb18030")
    if not_gb18030 is None:
        return "gb18030"
    raise BatchRefused(
        RefusalReason.BAD_ENCODING,
        f"the file is neither UTF-8 text ({not_utf8.describe()} cannot be decoded) nor GB18030 "
        f"or GBK text ({not_gb18030.describe()} cannot be decoded); declare the file's encoding "
        "or save it as UTF-8",
    )


def refuse_undecodable(path: Path, encoding: str, failure: Undecodable) -> BatchRefused:
    """The refusal for a file that does not decode in its declared encoding, with a hint when
    it is UTF-8 or GB18030 text instead."""
    hint = ""
    if encoding not in ("utf-8", "utf-8-sig") and first_undecodable(path, "utf-8") is None:
        hint = "; the file looks like UTF-8 text"
    elif encoding == "gbk" and first_undecodable(path, "gb18030") is None:
        hint = "; the file looks like GB18030 text (characters outside GBK)"
    elif encoding in ("utf-8", "utf-8-sig") and first_undecodable(path, "gb18030") is None:
        hint = "; the file looks like GBK/GB18030 text"
    return BatchRefused(
        RefusalReason.BAD_ENCODING,
        f"the file is not {encoding} text: {failure.describe()} cannot be decoded{hint}",
    )
