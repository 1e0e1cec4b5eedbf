"""The operator's report: one self-contained HTML file with plots of how the exchange is doing.

Data quality and freshness per department, materials saved per bundle, licences by type and
status, lookups by client and purpose, repeated-submission flags and red cards per department,
under a header that says when, which store, which catalogue revision, and whether the audit log
verifies. `data` reads the store, `plots` draws, `page` renders; `write_report` does all three.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from catalog.loader import load_catalogue
from exchange.audit.wiring import verify
from exchange.report.data import ReportData, read_report_data
from exchange.report.page import render, sections
from exchange.settings import Settings
from exchange.store.base import utcnow


@dataclass(frozen=True)
class ReportSummary:
    """What was written, for the CLI and the demo to print."""

    path: Path
    bytes: int
    plots: int  # sections, one plot each
    plots_with_data: int
    audit_entries: int
    audit_intact: bool | None  # None: not checked
    data: ReportData


def write_report(
    settings: Settings,
    engine: Engine,
    path: Path,
    *,
    verify_audit: bool = True,
    now: datetime | None = None,
) -> ReportSummary:
    """Read the store, draw the plots and write the page to ``path`` (its folder is created).

    ``verify_audit=False`` skips `audit verify`, which recomputes the whole Merkle tree: on a
    log of tens of millions of entries that is the slow part of the report.
    """
    catalogue = load_catalogue(settings.catalog_dir)
    verified = verify(settings, engine) if verify_audit else None
    data = read_report_data(engine, catalogue, now=now or utcnow(), verified=verified)
    parts = sections(data)
    html = render(data.header, parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(html, encoding="utf-8")
    temporary.replace(path)  # a reader never sees half a report
    drawn = [section.plot.drawn for section in parts]
    return ReportSummary(
        path=path,
        bytes=len(html.encode("utf-8")),
        plots=len(drawn),
        plots_with_data=sum(1 for count in drawn if count),
        audit_entries=data.header.audit_entries,
        audit_intact=data.header.audit_intact,
        data=data,
    )


__all__ = ["ReportSummary", "write_report"]
