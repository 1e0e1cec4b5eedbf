"""`onceonly lineage`: where a licence or a stored record came from, as a tree or as JSON.

The chain is built by `exchange.lineage.trace` with identifiers already masked; this module only
renders it. ``--json`` prints `Trace.as_dict`, the same value the API serves to auditors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.tree import Tree

from exchange.cli.console import fail, out
from exchange.lineage.trace import (
    BatchLink,
    LicenceNotFound,
    RecordLink,
    RecordNotFound,
    Trace,
    VersionLink,
    trace_licence,
    trace_record,
)
from exchange.settings import get_settings
from exchange.store.engine import make_engine

app = typer.Typer(help="Lineage: where a licence or a record came from.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the chain as JSON.")]


def _traced(build: Callable[..., Trace], *args: object, **kwargs: object) -> Trace:
    settings = get_settings()
    engine = make_engine(settings=settings)
    try:
        return build(engine, *args, **kwargs)
    except (LicenceNotFound, RecordNotFound, ValueError) as exc:
        raise fail(str(exc)) from exc
    finally:
        engine.dispose()


def _show(trace: Trace, root: Tree, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(trace.as_dict(), ensure_ascii=False, indent=2))
        return
    if trace.request is not None:
        who = escape(trace.request.requested_by or "unknown")
        why = escape(trace.request.reason or "no reason recorded")
        root.add(f"issued directly: requested by [bold]{who}[/]: {why}")
    else:
        _chain(root, trace)
    out.print(root, highlight=False)
    for warning in trace.warnings:
        out.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)


def _chain(root: Tree, trace: Trace) -> None:
    """dataset version → record → batch → file and row, department, Dagster run."""
    node = root
    if trace.dataset_version is not None:
        node = node.add(_version_label(trace.dataset_version))
    if trace.record is not None:
        node = node.add(_record_label(trace.record))
    if trace.batch is not None:
        _batch(node, trace.batch)


def _version_label(info: VersionLink) -> str:
    return (
        f"[bold]{escape(info.dataset)}[/] version {info.version}, made "
        f"{info.created_at:%Y-%m-%d %H:%M:%S} UTC by batch {escape(info.batch_id)}\n"
        f"{info.row_count:,} records: {info.added:,} added, {info.changed:,} changed, "
        f"{info.ended:,} ended"
    )


def _record_label(record: RecordLink) -> str:
    until = "current" if record.version_to is None else f"until version {record.version_to}"
    return (
        f"record of [bold]{escape(record.subject)}[/], from version {record.version_from}, "
        f"{until}\nhash {record.record_hash}"
    )


def _batch(node: Tree, batch: BatchLink) -> None:
    branch = node.add(
        f"batch [bold]{escape(batch.id)}[/] ({batch.status}, {batch.mode}, registered "
        f"{batch.registered_at:%Y-%m-%d %H:%M:%S} UTC)"
    )
    row = "" if batch.file.row is None else f", row {batch.file.row}"
    branch.add(
        f"file {escape(batch.file.name)} ({batch.file.size:,} bytes{row})\n"
        f"sha256 {batch.file.sha256}"
    )
    branch.add(f"department [bold]{escape(batch.department)}[/]")
    branch.add(
        f"Dagster run {escape(batch.run_id)}" if batch.run_id else "Dagster run: none recorded"
    )


@app.command()
def licence(
    licence_id: Annotated[str, typer.Argument(help="The licence identifier (any version).")],
    as_json: JsonOption = False,
) -> None:
    """The chain of one licence version: its source dataset version and record, the batch, the
    file's SHA-256 and row, the department and the Dagster run; or the request that issued it."""
    trace = _traced(trace_licence, licence_id)
    assert trace.licence is not None
    link = trace.licence
    status = link.status + (f" ({escape(link.status_reason)})" if link.status_reason else "")
    root = Tree(
        f"licence [bold]{link.id}[/] version {link.version}, {status}\n"
        f"type {link.type_code}, issued by {escape(link.issuer)} on "
        f"{link.issued_at:%Y-%m-%d %H:%M:%S} UTC to {link.holder}"
    )
    _show(trace, root, as_json)


@app.command()
def record(
    dataset: Annotated[str, typer.Argument(help="The dataset's code.")],
    subject: Annotated[str, typer.Argument(help="A resident ID number or a USCC.")],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="A time with its zone, ISO 8601: 2025-03-01T09:00+08:00."),
    ] = None,
    version: Annotated[
        int | None, typer.Option("--version", help="The dataset version.", min=1)
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The chain of the record a dataset holds (or held, with --as-of or --version) for one
    subject: the version that wrote it, the batch, the file's SHA-256 and row, the department
    and the Dagster run."""
    if as_of is not None and version is not None:
        raise fail("give --as-of or --version, not both")
    at = None if as_of is None else _moment(as_of)
    trace = _traced(trace_record, dataset, subject, version=version, at=at)
    assert trace.record is not None
    asked = trace.as_of
    if "version" in asked:
        when = f"in version {asked['version']}"
    elif "at" in asked:
        when = f"as of {asked['at']:%Y-%m-%d %H:%M:%S} UTC"
    else:
        when = "now"
    root = Tree(
        f"[bold]{escape(dataset)}[/] record of [bold]{trace.record.subject}[/] {escape(when)}"
    )
    _show(trace, root, as_json)


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"--as-of {text!r}: not an ISO 8601 time (2025-03-01T09:00+08:00)") from None
    if moment.tzinfo is None:
        raise fail(
            f"--as-of {text!r} has no time zone: add one (+08:00 for China, Z for UTC), "
            "so the time is not guessed"
        )
    return moment
