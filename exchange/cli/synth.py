"""`onceonly synth`: write a synthetic city's department files, with known injected errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from catalog.loader import CatalogueError
from exchange.cli.console import err, fail, out
from exchange.settings import get_settings
from exchange.synth import SynthError, SynthOptions, SynthResult, synthesise
from exchange.synth.errors import ErrorKind


def synth(
    people: Annotated[int, typer.Option(help="Number of residents.")] = 10_000,
    orgs: Annotated[
        int, typer.Option(help="Number of market entities (companies, traders).")
    ] = 2_000,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Output directory [default: $ONCEONLY_HOME/synth]."),
    ] = None,
    error_rate: Annotated[
        float, typer.Option(help="Share of each dataset's rows that get an injected error.")
    ] = 0.01,
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed gives the same files.")
    ] = 2026,
) -> None:
    """Write a synthetic city's dataset files as each department would, plus the ground truth.

    Files go to OUT/<department>/<dataset>/<dataset>.<ext>, in each dataset's declared format
    and encoding; OUT/ground_truth.{parquet,csv} lists every injected error and OUT/manifest.json
    the files with their SHA-256.
    """
    target = out_dir if out_dir is not None else get_settings().home / "synth"
    options = SynthOptions(
        out=target, people=people, organisations=orgs, error_rate=error_rate, seed=seed
    )
    columns = (
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=err) as progress:
            result = synthesise(options, progress=progress)
    except (SynthError, CatalogueError) as exc:
        raise fail(str(exc)) from exc
    _summary(result)


def _summary(result: SynthResult) -> None:
    files = Table(title=f"Synthetic city in {result.out}")
    files.add_column("dataset", no_wrap=True)
    files.add_column("format")
    files.add_column("encoding")
    files.add_column("rows", justify="right")
    files.add_column("errors", justify="right")
    for written in result.files:
        files.add_row(
            written.dataset,
            written.format,
            written.encoding or "",
            f"{written.rows:,}",
            f"{sum(written.errors.values()):,}",
        )
    out.print(files)
    kinds = Table(title="Injected errors (ground_truth.parquet / ground_truth.csv)")
    kinds.add_column("kind")
    kinds.add_column("ingest must")
    kinds.add_column("count", justify="right")
    for kind, count in result.errors.items():
        reason = ErrorKind(kind).expected_reason
        kinds.add_row(kind, f"reject: {reason}" if reason else "accept", f"{count:,}")
    kinds.add_row("[bold]total[/]", "", f"[bold]{sum(result.errors.values()):,}[/]")
    out.print(kinds)
