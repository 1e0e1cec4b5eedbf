"""`onceonly licences` and `onceonly keys`: issue, change, verify and export licences; manage the
signing keys. A department acts through ``--issuer``; holders are always shown masked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from catalog.loader import load_catalogue
from catalog.schema import SubjectKind
from exchange.cli.console import err, fail, out
from exchange.identifiers import resident, uscc
from exchange.identifiers.subjects import mask_subject, validate_subject
from exchange.settings import get_settings
from exchange.store.engine import make_engine
from licences import keys as key_store
from licences.derivation import derivable, derive
from licences.errors import LicenceError
from licences.issuance import LicenceBook, Lineage, NewLicence
from licences.models import EXCHANGE_OWNER, LicenceVersion
from licences.verification import Outcome, verify_document

app = typer.Typer(help="Electronic licences: issue, amend, revoke, verify.", no_args_is_help=True)
keys_app = typer.Typer(help="Signing keys: list, rotate, revoke, publish.", no_args_is_help=True)

Issuer = Annotated[str, typer.Option("--issuer", help="The issuing department's code.")]
Reason = Annotated[str, typer.Option("--reason", help="Why; recorded with the change.")]
FieldOption = Annotated[
    list[str] | None, typer.Option("--field", "-f", help="A field as NAME=VALUE; repeat.")
]


@contextmanager
def _session() -> Iterator[Session]:
    """A session on the configured store, committed when the command succeeds; a licence error
    becomes the command's error message."""
    engine = make_engine(settings=get_settings())
    try:
        with Session(engine) as session, session.begin():
            yield session
    except LicenceError as exc:
        raise fail(str(exc)) from exc
    finally:
        engine.dispose()


@contextmanager
def _book() -> Iterator[LicenceBook]:
    """A licence book over the configured store, committed when the command succeeds."""
    settings = get_settings()
    with _session() as session:
        yield LicenceBook(
            session,
            load_catalogue(settings.catalog_dir),
            passphrase=settings.passphrase,
            urls=settings.urls,
        )


def _fields(pairs: list[str] | None) -> dict[str, str]:
    values = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise fail(f"--field {pair!r}: write it as NAME=VALUE")
        values[name.strip()] = value
    return values


def masked(holder: str, kind: str | None = None) -> str:
    """The holder masked as its kind is: from the licence when known, else by trying both."""
    if kind is None:
        return mask_subject(holder)
    return (resident if kind == SubjectKind.PERSON else uscc).mask(holder)


def _print(row: LicenceVersion) -> None:
    # the identifier on a line of its own, never wrapped, so it can be copied or scripted
    out.print(f"licence    {row.id}", soft_wrap=True, highlight=False)
    table = Table(show_header=False, box=None)
    table.add_row("type", row.type_code)
    table.add_row("issuer", row.issuer)
    table.add_row("holder", f"{masked(row.holder_key, row.holder_kind)} {row.holder_name}")
    table.add_row("status", row.status + (f" ({row.status_reason})" if row.status_reason else ""))
    until = "long-term" if row.valid_until is None else f"{row.valid_until:%Y-%m-%d}"
    table.add_row("valid", f"{row.valid_from:%Y-%m-%d} to {until}")
    table.add_row("signed by", row.key_id)
    source = (
        f"{row.source_dataset} version {row.source_version}, batch {row.source_batch_id} "
        f"row {row.source_row}"
        if row.source_dataset
        else f"requested by {row.requested_by}: {row.request_reason}"
    )
    table.add_row("source", source)
    out.print(table)


@app.command()
def issue(
    type_code: Annotated[str, typer.Option("--type", help="The licence type's code.")],
    issuer: Issuer,
    holder: Annotated[str, typer.Option("--holder", help="Resident ID or USCC of the holder.")],
    name: Annotated[str, typer.Option("--name", help="The holder's name.")],
    field: FieldOption = None,
    reason: Reason = "issued on request",
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the document here.")] = None,
) -> None:
    """Issue a licence directly, as the issuing department: every field of the type is needed."""
    with _book() as book:
        (row,) = book.issue(
            type_code,
            issuer=issuer,
            licences=[
                NewLicence(
                    holder=holder,
                    holder_name=name,
                    fields=_fields(field),
                    lineage=Lineage(requested_by=f"cli:{issuer}", request_reason=reason),
                )
            ],
        )
        _print(row)
        _write(row, out_file)


@app.command()
def show(
    licence_id: Annotated[str, typer.Argument(help="The licence identifier.")],
    document: Annotated[bool, typer.Option(help="Print the signed document.")] = False,
) -> None:
    """One licence version, with its status and where it came from."""
    with _book() as book:
        row = book.get(licence_id)
        if document:
            typer.echo(json.dumps(json.loads(row.document), ensure_ascii=False, indent=2))
        else:
            _print(row)


@app.command(name="list")
def list_licences(
    holder: Annotated[str, typer.Option("--holder", help="Resident ID or USCC.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """The licences a holder holds (the newest version of each)."""
    with _book() as book:
        try:
            key = validate_subject(holder)
        except ValueError as exc:
            raise fail(f"--holder: {exc}") from exc
        rows = book.held_by(key)
        if as_json:
            for row in rows:
                until = None if row.valid_until is None else row.valid_until.isoformat()
                typer.echo(
                    json.dumps(
                        {
                            "licence": row.id,
                            "type_code": row.type_code,
                            "version": row.version,
                            "status": row.status,
                            "issuer": row.issuer,
                            "valid_until": until,
                        }
                    )
                )
            return
        table = Table("licence", "type", "version", "status", "valid until")
        table.columns[0].overflow = "fold"
        for row in rows:
            until = "long-term" if row.valid_until is None else f"{row.valid_until:%Y-%m-%d}"
            table.add_row(row.id, row.type_code, f"{row.version:03d}", row.status, until)
        out.print(table)
        out.print(f"{len(rows)} licences held by {masked(key)}")


@app.command()
def amend(
    licence_id: Annotated[str, typer.Argument(help="The licence identifier.")],
    issuer: Issuer,
    field: FieldOption = None,
    reason: Reason = "amended on request",
) -> None:
    """A new version with the given fields changed; the previous version becomes superseded."""
    with _book() as book:
        current = book.get(licence_id)
        row = book.amend(
            licence_id,
            issuer=issuer,
            fields={**current.fields, **_fields(field)},
            lineage=Lineage(requested_by=f"cli:{issuer}", request_reason=reason),
            reason=reason,
        )
        _print(row)


def _status_command(action: str, help_text: str) -> None:
    def command(
        licence_id: Annotated[str, typer.Argument(help="The licence identifier.")],
        issuer: Issuer,
        reason: Reason,
    ) -> None:
        with _book() as book:
            _print(getattr(book, action)(licence_id, issuer=issuer, reason=reason))

    command.__doc__ = help_text
    app.command(name=action)(command)


_status_command("revoke", "Revoke a licence for good (its bit in the revocation list is set).")
_status_command("suspend", "Suspend a licence until it is reinstated.")
_status_command("reinstate", "Lift a suspension.")


@app.command()
def verify(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A licence document.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """Verify a licence document: valid, expired, revoked, suspended, superseded, bad signature,
    unknown or revoked key, unknown, or malformed, with the reason. Exit code 0 only if valid."""
    settings = get_settings()
    engine = make_engine(settings=settings)
    with Session(engine) as session:
        result = verify_document(session, file.read_bytes(), urls=settings.urls)
    engine.dispose()
    if as_json:
        answer = {"outcome": result.outcome.value, "reason": result.reason}
        typer.echo(json.dumps({**answer, "licence": result.licence_id}, ensure_ascii=False))
    else:
        colour = "green" if result.ok else "red"
        out.print(f"[bold {colour}]{result.outcome.value}[/]: {result.reason}")
    if result.outcome is not Outcome.VALID:
        raise typer.Exit(1)


@app.command()
def export(
    licence_id: Annotated[str, typer.Argument(help="The licence identifier.")],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Default: <licence id>.json")
    ] = None,
) -> None:
    """Write a licence's signed document to a file, to hand to anyone who verifies it."""
    with _book() as book:
        _write(book.get(licence_id), out_file or Path(f"{licence_id}.json"))


@app.command(name="derive")
def derive_command(
    type_code: Annotated[
        str | None, typer.Option("--type", help="One licence type (default: all with a source).")
    ] = None,
) -> None:
    """Bring derived licences up to their source datasets (the Dagster asset does this after
    each ingest)."""
    settings = get_settings()
    catalogue = load_catalogue(settings.catalog_dir)
    engine = make_engine(settings=settings)
    codes = [type_code] if type_code else [t.code for t in derivable(catalogue)]
    table = Table("licence type", "dataset", "versions", "issued", "amended", "revoked")
    try:
        for code in codes:
            done = derive(
                engine, catalogue, code, passphrase=settings.passphrase, urls=settings.urls
            )
            versions = ", ".join(map(str, done.versions)) or "up to date"
            table.add_row(
                code, done.dataset, versions, str(done.issued), str(done.amended), str(done.revoked)
            )
    except (LicenceError, ValueError, KeyError) as exc:
        raise fail(str(exc)) from exc
    finally:
        engine.dispose()
    out.print(table)


def _write(row: LicenceVersion, path: Path | None) -> None:
    if path is None:
        return
    document = json.loads(row.document)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    err.print(f"wrote {path}")


# -- keys ----------------------------------------------------------------------------------


@keys_app.command(name="list")
def list_keys(
    owner: Annotated[str | None, typer.Option(help="One department (or 'exchange').")] = None,
) -> None:
    """Every signing key: which signs now, which only verify the past, which are revoked."""
    with _session() as session:
        table = Table("key id", "owner", "created", "state")
        for key in key_store.list_keys(session, owner):
            if key.revoked_at is not None:
                state = f"[red]revoked from {key.revoked_at:%Y-%m-%d %H:%M}[/]"
            elif key.retired_at is not None:
                state = f"retired {key.retired_at:%Y-%m-%d} (verifies only)"
            else:
                state = "[green]signs[/]"
            table.add_row(key.id, key.owner, f"{key.created_at:%Y-%m-%d %H:%M}", state)
        out.print(table)


@keys_app.command()
def rotate(owner: Annotated[str, typer.Argument(help="A department code, or 'exchange'.")]) -> None:
    """A new key signs from now on; the old one keeps verifying what it signed."""
    settings = get_settings()
    owners = {EXCHANGE_OWNER, *(d.code for d in load_catalogue(settings.catalog_dir).departments)}
    if owner not in owners:
        raise fail(f"{owner!r} is neither a department of the catalogue nor {EXCHANGE_OWNER!r}")
    with _session() as session:
        key = key_store.rotate(session, owner, passphrase=get_settings().passphrase)
        out.print(f"{owner} now signs with key {key.id}")


@keys_app.command()
def revoke(
    key_id: Annotated[
        str,
        # an option, not an argument: a key id (a base64url thumbprint) may begin with "-"
        typer.Option("--key", help="The key id (see `onceonly keys list`)."),
    ],
    reason: Reason,
    since: Annotated[
        datetime | None,
        typer.Option(help="Revoked from this time (UTC unless given); default now."),
    ] = None,
) -> None:
    """Revoke a leaked key from a point in time: what it signed from then on fails to verify.
    Its owner gets a new key at once."""
    from exchange.ingest.history import as_utc

    with _session() as session:
        signing = key_store.get_key(session, key_id).retired_at is None
        key = key_store.revoke(
            session,
            key_id,
            since=None if since is None else as_utc(since),
            reason=reason,
            passphrase=get_settings().passphrase,
        )
        out.print(f"key {key.id} of {key.owner} revoked")
        if signing:
            fresh = key_store.rotate(session, key.owner, passphrase=get_settings().passphrase)
            out.print(f"{key.owner} now signs with key {fresh.id}")


@keys_app.command()
def jwks(
    owner: Annotated[str | None, typer.Option(help="One department (or 'exchange').")] = None,
) -> None:
    """The public keys as a JSON Web Key Set (RFC 7517), for verifiers."""
    with _session() as session:
        typer.echo(json.dumps(key_store.jwks(session, owner), indent=2))


@keys_app.command()
def controller(
    owner: Annotated[str, typer.Argument(help="A department code, or 'exchange'.")],
) -> None:
    """The issuer's controller document: its keys as Multikey verification methods, the form a
    Data Integrity verifier resolves a proof's verificationMethod to."""
    settings = get_settings()
    with _session() as session:
        document = key_store.controller_document(session, owner, urls=settings.urls)
    typer.echo(json.dumps(document, indent=2))
