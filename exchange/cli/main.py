"""The `onceonly` command: every capability of the exchange, one sub-command group each."""

from __future__ import annotations

import typer

from exchange.cli import (
    audit,
    catalog,
    clients,
    ids,
    ingest,
    licences,
    lineage,
    serve,
    sharing,
    synth,
)
from exchange.cli.demo import demo
from exchange.cli.init import init
from exchange.cli.report import report

app = typer.Typer(
    name="onceonly",
    help="onceonly: a data-sharing exchange and electronic licence store for local government.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.command()(init)
app.add_typer(ids.app, name="ids")
app.add_typer(catalog.app, name="catalog")
app.command(name="synth")(synth.synth)
app.command()(demo)
app.command()(ingest.publish)
app.add_typer(ingest.batches_app, name="batches")
app.add_typer(ingest.datasets_app, name="datasets")
app.add_typer(licences.app, name="licences")
app.add_typer(licences.keys_app, name="keys")
app.add_typer(audit.app, name="audit")
app.add_typer(lineage.app, name="lineage")
app.add_typer(clients.app, name="clients")
app.add_typer(sharing.app, name="sharing")
app.command()(serve.serve)
app.command()(report)

if __name__ == "__main__":  # pragma: no cover
    app()
