"""Placeholder: filled in by the ids work."""

import typer

app = typer.Typer(help="ids commands", no_args_is_help=True)
