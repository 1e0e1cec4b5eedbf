"""`onceonly demo`: the main job on the embedded default, end to end, with a summary.

Each capability adds its step here as it lands; the demo is the exchange's own smoke test and the
newcomer's first look at it.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from catalog.bundles import plan_bundle
from catalog.schema import Catalogue
from exchange.bootstrap import initialise
from exchange.cli.console import err, out
from exchange.settings import get_settings
from exchange.synth import SynthOptions, synthesise


def demo(
    people: Annotated[int, typer.Option(help="Residents of the synthetic city.")] = 100_000,
    orgs: Annotated[int, typer.Option(help="Organisations of the synthetic city.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic city.")] = 2026,
) -> None:
    """Run the exchange end to end on the embedded default (SQLite, Parquet, DuckDB)."""
    settings = get_settings()
    out.rule("[bold]1. init[/]: store, home and catalogue")
    done = initialise(settings)
    out.print(f"store at revision {done.revision}; home {settings.home.resolve()}")

    out.rule(f"[bold]2. synth[/]: a city of {people:,} people and {orgs:,} organisations")
    with _progress() as progress:
        city = synthesise(
            SynthOptions(out=settings.home / "synth", people=people, organisations=orgs, seed=seed),
            catalogue=done.catalogue,
            progress=progress,
        )
    rows = sum(written.rows for written in city.files)
    out.print(
        f"{len(city.files)} department files, {rows:,} rows, "
        f"{city.ground_truth.num_rows:,} injected errors listed in {city.out / 'ground_truth.csv'}"
    )

    out.rule("[bold]3. catalogue[/]")
    out.print(_bundles_table(done.catalogue))

    out.print(
        "next: [bold]onceonly catalog list[/], [bold]onceonly ids check --kind resident[/], "
        "[bold]make dagster[/]"
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    )


def _bundles_table(catalogue: Catalogue) -> Table:
    table = Table(title="one thing, done once: the bundles")
    for column in ("bundle", "items", "materials asked", "asked once", "time limit"):
        table.add_column(column)
    for bundle in catalogue.bundles:
        plan = plan_bundle(catalogue, bundle.code)
        asked = sum(len(catalogue.service_item(code).materials) for code in bundle.items)
        table.add_row(
            bundle.name,
            str(len(bundle.items)),
            str(asked),
            str(len(plan.materials)),
            f"{plan.time_limit.days} working days",
        )
    return table
