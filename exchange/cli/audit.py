"""`onceonly audit`: check the tamper-evident log, prove an entry, sign a checkpoint, and list who
accessed a subject's data."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from exchange.audit import ProofError, access_report
from exchange.audit.log import b64
from exchange.audit.wiring import audit_log, checkpoint, verify
from exchange.cli.console import fail, out
from exchange.identifiers.subjects import mask_subject, validate_subject
from exchange.ingest.history import as_utc
from exchange.settings import get_settings
from exchange.store.engine import make_engine

app = typer.Typer(help="The audit log: verify, prove, checkpoint, access.", no_args_is_help=True)


@app.command(name="verify")
def verify_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Recompute the tree from every stored entry and check every checkpoint and the witness
    file; names the first bad entry. Exit code 0 only when all is intact."""
    settings = get_settings()
    engine = make_engine(settings=settings)
    report = verify(settings, engine)
    engine.dispose()
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
    elif report.ok:
        out.print(
            f"[green]intact[/]: {report.entries:,} entries, root {b64(report.root)}, "
            f"{report.checkpoints} checkpoints, {report.witnessed} witnessed"
        )
    else:
        out.print(f"[bold red]tampered[/]: first bad entry {report.first_bad_entry}")
        for problem in report.problems:
            out.print(f"  {problem.kind}: {problem.message}")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def proof(
    entry: Annotated[int, typer.Argument(help="The entry's index.")],
    tree_size: Annotated[int | None, typer.Option(help="Default: the current tree.")] = None,
) -> None:
    """An RFC 9162 inclusion proof for one entry, as JSON (hashes base64), checked before it is
    printed."""
    settings = get_settings()
    engine = make_engine(settings=settings)
    try:
        with audit_log(settings, engine) as log:
            made = log.inclusion_proof(entry, tree_size)
            stored = log.entry(entry)
    except ProofError as exc:
        raise fail(str(exc)) from exc
    finally:
        engine.dispose()
    if not made.verify():
        raise fail(f"the proof for entry {entry} does not verify: run `onceonly audit verify`")
    typer.echo(
        json.dumps(
            {**made.as_dict(), "leaf": json.loads(stored.leaf)},
            ensure_ascii=False,
            indent=2,
        )
    )


@app.command(name="checkpoint")
def checkpoint_command() -> None:
    """Sign the log's current size and root with the exchange's key, now, and append the
    checkpoint to the witness file."""
    settings = get_settings()
    engine = make_engine(settings=settings)
    try:
        signed = checkpoint(settings, engine)
    finally:
        engine.dispose()
    typer.echo(signed.note, nl=False)


@app.command()
def access(
    subject: Annotated[str, typer.Argument(help="A resident ID number or a USCC.")],
    since: Annotated[datetime | None, typer.Option(help="Only accesses from this time.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Who accessed a subject's records and licences: when, who, for which purpose and item."""
    settings = get_settings()
    try:
        key = validate_subject(subject)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    engine = make_engine(settings=settings)
    try:
        entries = access_report(
            engine,
            subject=key,
            subject_secret=settings.passphrase,
            since=None if since is None else as_utc(since),
        )
    finally:
        engine.dispose()
    if as_json:
        for entry in entries:
            typer.echo(json.dumps(entry.as_dict(), ensure_ascii=False))
        return
    table = Table("entry", "time", "what", "who", "role", "purpose", "service item")
    for entry in entries:
        table.add_row(
            str(entry.index),
            f"{entry.time:%Y-%m-%d %H:%M:%S}",
            entry.kind + ("" if entry.intact else " [red](altered)[/]"),
            entry.actor,
            entry.role,
            entry.purpose or "",
            entry.service_item or "",
        )
    out.print(table)
    out.print(f"{len(entries)} accesses to the data of {mask_subject(key)}")
