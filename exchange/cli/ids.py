"""`onceonly ids`: check resident identity numbers and USCCs from a file or standard input.

Uses the bulk path in chunks, so a file of millions of lines is fine. The output echoes each
input line (it is the user's own file) as JSON lines on standard output; nothing is logged.
"""

from __future__ import annotations

import io
import json
import sys
from collections import Counter
from collections.abc import Iterator
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import Annotated, BinaryIO

import pyarrow as pa
import typer
from rich.table import Table

from exchange.cli.console import err, fail
from exchange.identifiers.bulk import BulkResult, validate_resident, validate_uscc

app = typer.Typer(
    help="Resident identity numbers (GB 11643) and unified social credit codes (GB 32100).",
    no_args_is_help=True,
)

#: Lines validated per bulk call.
CHUNK_LINES = 200_000


class Kind(StrEnum):
    RESIDENT = "resident"
    USCC = "uscc"


def _lines(stream: BinaryIO) -> Iterator[str]:
    """Lines without their line ends; UTF-8 with an optional BOM, undecodable bytes as U+FFFD
    (they then show as ``bad_character`` instead of stopping the whole file)."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline=None)
    for line in text:
        yield line.removesuffix("\n")


def _records(lines: list[str], result: BulkResult) -> bytes:
    rows = zip(
        lines,
        result.normalised.to_pylist(),
        result.reason.to_pylist(),
        result.warning.to_pylist(),
        strict=True,
    )
    return "".join(
        json.dumps(
            {
                "input": line,
                "valid": normalised is not None,
                "normalised": normalised,
                "reason": reason,
                "warning": warning,
            },
            ensure_ascii=False,
        )
        + "\n"
        for line, normalised, reason, warning in rows
    ).encode("utf-8")


def _summary(counts: Counter[str], total: int, valid: int) -> Table:
    table = Table(title="Summary", title_justify="left")
    table.add_column("result")
    table.add_column("count", justify="right")
    table.add_row("total", f"{total:,}")
    table.add_row("valid", f"{valid:,}")
    for reason, count in sorted(counts.items()):
        table.add_row(reason, f"{count:,}")
    return table


@app.command()
def check(
    kind: Annotated[Kind, typer.Option("--kind", help="Which identifier the lines hold.")],
    file: Annotated[
        Path | None,
        typer.Argument(help="One value per line (UTF-8). Standard input if omitted or '-'."),
    ] = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="Print counts by reason to standard error.")
    ] = False,
) -> None:
    """Validate one value per line; write one JSON object per line:
    {"input", "valid", "normalised", "reason", "warning"}. Exits 0 even if some are invalid."""
    validate = validate_resident if kind is Kind.RESIDENT else validate_uscc
    if file is None or str(file) == "-":
        stream: BinaryIO = sys.stdin.buffer
    elif file.is_file():
        stream = file.open("rb")
    else:
        raise fail(f"no such file: {file}")
    out = sys.stdout.buffer  # bytes: UTF-8 whatever the locale
    counts: Counter[str] = Counter()
    total = valid = 0
    with stream:
        lines = _lines(stream)
        while chunk := list(islice(lines, CHUNK_LINES)):
            result = validate(pa.array(chunk, type=pa.string()))
            out.write(_records(chunk, result))
            out.flush()
            counts.update(result.reason_counts())
            total += len(chunk)
            valid += len(chunk) - result.normalised.null_count
    if summary:
        err.print(_summary(counts, total, valid))
