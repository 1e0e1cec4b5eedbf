"""`onceonly clients`: add, list and revoke the API's clients (the operator's local tool).

A new client's token is printed once, to standard output, and never again: the store keeps only
its SHA-256. Give it to the client over a channel you trust.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from catalog.loader import load_catalogue
from exchange.access import clients
from exchange.access.roles import Role
from exchange.audit.log import AuditLog
from exchange.audit.wiring import audit_log
from exchange.cli.console import err, fail, out
from exchange.errors import ExchangeError
from exchange.settings import get_settings
from exchange.store.engine import make_engine

app = typer.Typer(help="API clients: add, list, revoke.", no_args_is_help=True)


def cli_actor() -> str:
    """How the audit log names a person at this machine's command line."""
    return f"cli:{getpass.getuser()}"


@contextmanager
def _store() -> Iterator[tuple[Session, AuditLog]]:
    settings = get_settings()
    engine = make_engine(settings=settings)
    try:
        with (
            audit_log(settings, engine) as log,
            Session(engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session, log
    except ExchangeError as exc:
        raise fail(exc.message) from exc
    finally:
        engine.dispose()


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="The client's name, e.g. window_platform.")],
    role: Annotated[Role, typer.Option(help="department, platform, auditor or operator.")],
    organisation: Annotated[
        str | None,
        typer.Option(help="A department client's department code; else the body it serves."),
    ] = None,
    description: Annotated[str, typer.Option(help="What the client is for.")] = "",
) -> None:
    """Add a client and print its bearer token, once."""
    catalogue = load_catalogue(get_settings().catalog_dir)
    with _store() as (session, log):
        made = clients.add_client(
            session,
            catalogue,
            log,
            name=name,
            role=role,
            organisation=organisation,
            description=description,
            actor=cli_actor(),
        )
    err.print(
        f"client [bold]{name}[/] ({role.value}, {made.client.organisation}) added; its token "
        "follows, shown this once:"
    )
    typer.echo(made.token)


@app.command(name="list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every client, with its role, organisation and state (never a token)."""
    with _store() as (session, _log):
        rows = [clients.client_as_dict(row) for row in clients.list_clients(session)]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("name", "role", "organisation", "token", "created", "state")
    for row in rows:
        state = f"revoked {row['revoked_at'][:19]}" if row["revoked_at"] else "active"
        table.add_row(
            row["name"],
            row["role"],
            row["organisation"],
            row["token_prefix"] + "…",
            row["created_at"][:19],
            state,
        )
    out.print(table)


@app.command()
def revoke(
    name: Annotated[str, typer.Argument(help="The client's name.")],
    reason: Annotated[str, typer.Option(help="Why; recorded in the audit log.")],
) -> None:
    """Stop accepting a client's token, from its next request on."""
    with _store() as (session, log):
        clients.revoke_client(session, log, name=name, reason=reason, actor=cli_actor())
    out.print(f"client [bold]{name}[/] revoked")
