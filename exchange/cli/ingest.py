"""`onceonly publish`, `onceonly batches` and `onceonly datasets`: a department's file through
the pipeline, and what became of it."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from catalog.loader import CatalogueError, load_catalogue
from exchange.cli.console import fail, out
from exchange.ingest.batches import (
    BatchOutcome,
    UnknownBatch,
    get_batch,
    list_batches,
    register_file,
)
from exchange.ingest.freshness import Freshness, judge_freshness
from exchange.ingest.history import dataset_versions
from exchange.ingest.models import Batch, BatchStatus
from exchange.settings import get_settings
from exchange.store.engine import make_engine

batches_app = typer.Typer(
    help="Batches: each department file and its outcome.", no_args_is_help=True
)
datasets_app = typer.Typer(
    help="Shared datasets: versions, quality, freshness.", no_args_is_help=True
)


class Mode(StrEnum):
    FULL = "full"
    DELTA = "delta"


def publish(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="The department's file.")
    ],
    dataset: Annotated[str, typer.Option("--dataset", help="The dataset's catalogue code.")],
    mode: Annotated[
        Mode, typer.Option(help="full: the whole dataset (missing subjects end); delta: changes.")
    ] = Mode.FULL,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Publish a file as the next batch of DATASET: validate it, quarantine bad rows, and make
    the dataset's next version, by running its Dagster ingest job in this process."""
    from pipelines.runner import PublishFailed, publish_batch

    settings = get_settings()
    try:
        catalogue = load_catalogue(settings.catalog_dir)
        entry = catalogue.dataset(dataset)
    except (CatalogueError, KeyError) as exc:
        raise fail(str(exc).strip('"')) from exc
    engine = make_engine(settings=settings)
    batch, created = register_file(engine, settings, entry, file, mode=mode.value)
    if created or batch.status not in (BatchStatus.ACCEPTED, BatchStatus.REFUSED):
        try:
            outcome = publish_batch(settings, engine, batch)
        except PublishFailed as exc:
            raise fail(str(exc)) from exc
    else:
        outcome = BatchOutcome.of(batch, already_known=True)
    if as_json:
        typer.echo(json.dumps(outcome.as_dict(), ensure_ascii=False))
    else:
        _print_outcome(outcome)
    if outcome.status == BatchStatus.REFUSED and not outcome.already_known:
        raise typer.Exit(2)


def _print_outcome(outcome: BatchOutcome) -> None:
    table = Table(show_header=False, title=f"batch {outcome.batch_id}")
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("dataset", outcome.dataset),
        ("file", outcome.file_name),
        ("SHA-256", outcome.file_sha256),
        ("mode", outcome.mode),
        ("status", _status(outcome.status)),
        ("rows read", _count(outcome.rows_read)),
        ("accepted", _count(outcome.rows_accepted)),
        ("quarantined", _count(outcome.rows_quarantined)),
        ("version", str(outcome.version) if outcome.version else "-"),
        ("quarantine", outcome.quarantine_csv or "-"),
    ]
    if outcome.refusal_reason or outcome.refusal_message:
        rows.append(("reason", f"{outcome.refusal_reason or 'error'}: {outcome.refusal_message}"))
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)
    if outcome.already_known:
        out.print("the same content was published before: nothing changed")


def _status(status: str) -> str:
    colour = {"accepted": "green", "refused": "red", "failed": "red"}.get(status, "yellow")
    return f"[{colour}]{status}[/]"


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


@batches_app.command("list")
def batches_list(
    dataset: Annotated[str | None, typer.Option(help="Only this dataset's batches.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
) -> None:
    """The newest batches with their outcome."""
    batches = list_batches(make_engine(), dataset=dataset, limit=limit)
    table = Table("batch", "dataset", "file", "mode", "status", "read", "quarantined", "version")
    for batch in batches:
        table.add_row(
            batch.id,
            batch.dataset_code,
            batch.file_name,
            batch.mode,
            _status(batch.status),
            _count(batch.rows_read),
            _count(batch.rows_quarantined),
            str(batch.version or "-"),
        )
    out.print(table)


@batches_app.command("show")
def batches_show(batch_id: Annotated[str, typer.Argument(help="The batch id.")]) -> None:
    """One batch: its file, outcome, quality figures and where its quarantine is."""
    try:
        batch = get_batch(make_engine(), batch_id)
    except UnknownBatch as exc:
        raise fail(str(exc)) from exc
    _print_outcome(BatchOutcome.of(batch))
    _print_stats(batch)


def _print_stats(batch: Batch) -> None:
    stats = batch.stats or {}
    reasons = stats.get("reasons") or {}
    if reasons:
        table = Table("reason", "entries", title="quarantine by reason")
        for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
            table.add_row(reason, f"{count:,}")
        out.print(table)
    facts = {k: stats[k] for k in ("format", "encoding", "added", "changed", "ended") if k in stats}
    if facts:
        out.print(", ".join(f"{key}: {value}" for key, value in facts.items()))


@datasets_app.command("show")
def datasets_show(
    code: Annotated[str, typer.Argument(help="The dataset's catalogue code.")],
) -> None:
    """A dataset's versions, row counts, quality and freshness."""
    settings = get_settings()
    try:
        dataset = load_catalogue(settings.catalog_dir).dataset(code)
    except (CatalogueError, KeyError) as exc:
        raise fail(str(exc).strip('"')) from exc
    engine = make_engine(settings=settings)
    versions = dataset_versions(engine, code)
    batches = {batch.id: batch for batch in list_batches(engine, dataset=code, limit=10_000)}
    out.print(
        f"[bold]{dataset.name}[/] ({dataset.code}), {dataset.department}, "
        f"updated {dataset.update_frequency.value}"
    )
    table = Table("version", "created", "batch", "rows", "added", "changed", "ended", "quarantined")
    for info in versions:
        batch = batches.get(info.batch_id)
        quarantined = "-"
        if batch is not None and batch.rows_read:
            quarantined = f"{(batch.rows_quarantined or 0) / batch.rows_read:.2%}"
        table.add_row(
            str(info.version),
            info.created_at.strftime("%Y-%m-%d %H:%M"),
            info.batch_id,
            f"{info.row_count:,}",
            f"{info.added:,}",
            f"{info.changed:,}",
            f"{info.ended:,}",
            quarantined,
        )
    out.print(table)
    refused = [b for b in batches.values() if b.status == BatchStatus.REFUSED]
    if refused:
        out.print(
            f"{len(refused)} refused batch(es); newest: {refused[0].id}: "
            f"{refused[0].refusal_reason}"
        )
    out.print(_freshness(judge_freshness(dataset, versions[-1].created_at if versions else None)))


def _freshness(judged: Freshness) -> str:
    if judged.age is None:
        return "[yellow]never delivered[/]"
    verdict = "[green]fresh[/]" if judged.fresh else "[red]stale[/]"
    return (
        f"freshness: {verdict}, last version {judged.age.days} day(s) ago, "
        f"allowed {judged.allowed.days}"
    )
