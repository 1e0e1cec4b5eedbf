"""`onceonly report`: the operator's report, one self-contained HTML file with plots."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from exchange.cli.console import out
from exchange.settings import get_settings
from exchange.store.engine import make_engine


def report(
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write the page; default $ONCEONLY_HOME/report.html."),
    ] = None,
    verify_audit: Annotated[
        bool,
        typer.Option(
            "--verify/--no-verify",
            help="Run `audit verify` for the header (recomputes the whole log: slow on big logs).",
        ),
    ] = True,
) -> None:
    """Write the operator's report: data quality and freshness per department, materials saved
    per bundle, licences by type and status, lookups by client and purpose, repeated-submission
    flags and red cards, and whether the audit log is intact."""
    settings = get_settings()
    path = out_file or settings.home / "report.html"
    engine = make_engine(settings=settings)
    try:
        from exchange.report import write_report  # matplotlib: only when a report is drawn

        summary = write_report(settings, engine, path, verify_audit=verify_audit)
    finally:
        engine.dispose()
    audit = {None: "not verified", True: "intact", False: "[bold red]NOT intact[/]"}
    out.print(
        f"report written to [bold]{summary.path.resolve()}[/] ({summary.bytes:,} bytes): "
        f"{summary.plots} plots, {summary.plots_with_data} with data; audit log "
        f"{summary.audit_entries:,} entries, {audit[summary.audit_intact]}"
    )
