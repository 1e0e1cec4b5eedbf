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
from exchange.audit.wiring import checkpoint, verify
from exchange.bootstrap import Initialised, initialise
from exchange.cli.console import err, out
from exchange.cli.demo_licences import derive_all, showcase
from exchange.cli.demo_precheck import grant_platform, precheck_bundles, shares_table
from exchange.cli.lineage import licence as lineage_licence
from exchange.ingest.batches import BatchOutcome, get_batch, register_file
from exchange.settings import Settings, get_settings
from exchange.synth import SynthOptions, SynthResult, synthesise


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

    out.rule("[bold]4. ingest[/]: every department's file through its Dagster pipeline")
    outcomes = _ingest(settings, done, city)
    out.print(_ingest_table(city, outcomes))
    refused = _refused_batch(settings, done, city)
    out.print(
        f"a file with a wrong column: batch {refused.batch_id} [red]{refused.status}[/]: "
        f"{refused.refusal_reason}: {refused.refusal_message}"
    )

    out.rule("[bold]5. licences[/]: derived by Dagster assets, signed with each department's key")
    with _progress() as progress:
        derive_all(settings, done.catalogue, progress)
    shown = showcase(settings, done.catalogue, done.engine)
    out.print(shown.counts)
    out.print(f"a business licence, {shown.licence_id}: [green]{shown.genuine.outcome}[/]")
    out.print(f"a tampered copy of it: [red]{shown.tampered.outcome}[/]: {shown.tampered.reason}")
    out.print(f"one just revoked: [red]{shown.revoked.outcome}[/]: {shown.revoked.reason}")

    out.rule("[bold]6. precheck[/]: what the acceptance platform finds already held")
    approved = grant_platform(settings, done.engine, done.catalogue)
    out.print(
        f"the platform asked for the restricted fields its bundles need: {approved} sharing "
        "requests, each approved by the providing department"
    )
    with _progress() as progress:
        shares = precheck_bundles(settings, done.engine, done.catalogue, progress, seed=seed)
    out.print(shares_table(shares))

    out.rule("[bold]7. lineage[/]: the business licence traced back to its department's file")
    lineage_licence(shown.licence_id)

    out.rule("[bold]8. audit[/]: every publication, licence, key event and lookup in a Merkle log")
    signed = checkpoint(settings, done.engine)
    report = verify(settings, done.engine)
    state = "[green]intact[/]" if report.ok else f"[red]tampered at {report.first_bad_entry}[/]"
    out.print(
        f"checkpoint signed by the exchange's key: {signed.size:,} entries; "
        f"`onceonly audit verify`: {state}"
    )

    out.rule("[bold]9. report[/]: the operator's report")
    report_path = settings.home / "report.html"
    from exchange.report import write_report  # matplotlib: only when a report is drawn

    write_report(settings, done.engine, report_path, verify_audit=False)  # verified just above
    out.print(
        f"written to {report_path.resolve()}: quality and freshness per department, materials "
        "saved per bundle, licences, lookups, flags and red cards (open it in a browser)"
    )

    out.rule("[bold]summary[/]")
    accepted = sum(outcome.status == "accepted" for outcome in outcomes)
    matched = _quarantine_matches(city, outcomes)
    summary = Table("capability", "result", title="the exchange, end to end", show_lines=False)
    summary.add_row(
        "ingest",
        f"{accepted} of {len(outcomes)} files accepted; every set-aside row as the ground truth "
        f"says: {'yes' if matched else '[red]no[/]'}; a renamed column refused: "
        f"{refused.refusal_reason}",
    )
    summary.add_row(
        "licences",
        f"{shown.total:,} issued and signed; verify: {shown.genuine.outcome}, tampered "
        f"{shown.tampered.outcome}, revoked {shown.revoked.outcome}",
    )
    summary.add_row(
        "precheck",
        "; ".join(f"{share.name} {share.share:.0%} no longer handed over" for share in shares),
    )
    summary.add_row("lineage", f"{shown.licence_id} → record → batch → file and row → run")
    summary.add_row("audit", f"{signed.size:,} entries, checkpoint signed, verify: {state}")
    summary.add_row("report", str(report_path.resolve()))
    out.print(summary)
    out.print(
        "go on: [bold]onceonly serve[/] (the API; OpenAPI at http://127.0.0.1:8000/docs), "
        "[bold]make dagster[/] (`dagster dev` over this repository: the asset graph and runs), "
        f"the verification page: {settings.urls.verify_page(shown.licence_id)}; "
        "[bold]onceonly datasets show household_registration[/], "
        "[bold]onceonly audit access[/] SUBJECT, [bold]onceonly keys list[/]"
    )


def _quarantine_matches(city: SynthResult, outcomes: list[BatchOutcome]) -> bool:
    """Whether every accepted batch set aside exactly the rows the ground truth injected."""
    expected = _injected(city)
    return all(
        outcome.rows_quarantined == expected[outcome.dataset]
        for outcome in outcomes
        if outcome.status == "accepted"
    )


def _injected(city: SynthResult) -> dict[str, int]:
    """Per dataset, the rows the synth made bad (each must be set aside)."""
    truth = city.ground_truth.to_pylist()
    return {
        written.dataset: len(
            {
                row["row"]
                for row in truth
                if row["dataset"] == written.dataset and row["expected_reason"]
            }
        )
        for written in city.files
    }


def _ingest(settings: Settings, done: Initialised, city: SynthResult) -> list[BatchOutcome]:
    """Publish each synthetic file as a batch, as `onceonly publish` does."""
    from pipelines.runner import project_instance, run_batch  # Dagster: only when it runs

    instance = project_instance(settings)
    outcomes = []
    with _progress() as progress:
        task = progress.add_task("ingesting", total=len(city.files))
        for written in city.files:
            progress.update(task, description=written.dataset)
            dataset = done.catalogue.dataset(written.dataset)
            batch, created = register_file(done.engine, settings, dataset, city.out / written.path)
            if created or batch.status not in ("accepted", "refused"):
                run_batch(batch, instance=instance)
            outcomes.append(BatchOutcome.of(get_batch(done.engine, batch.id)))
            progress.advance(task)
    return outcomes


def _ingest_table(city: SynthResult, outcomes: list[BatchOutcome]) -> Table:
    """Each batch's outcome beside what the synth injected: the rows set aside must be exactly
    the rows the ground truth says ingest must refuse."""
    expected = _injected(city)
    table = Table(title="ingest: batches against the synth's ground truth")
    for column in ("dataset", "status", "rows", "accepted", "set aside", "injected", "version"):
        table.add_column(column, justify="left" if column in ("dataset", "status") else "right")
    for outcome in outcomes:
        injected = expected[outcome.dataset]
        mark = "" if outcome.rows_quarantined == injected else " [red]≠[/]"
        table.add_row(
            outcome.dataset,
            outcome.status,
            f"{outcome.rows_read or 0:,}",
            f"{outcome.rows_accepted or 0:,}",
            f"{outcome.rows_quarantined or 0:,}{mark}",
            f"{injected:,}",
            str(outcome.version or "-"),
        )
    return table


def _refused_batch(settings: Settings, done: Initialised, city: SynthResult) -> BatchOutcome:
    """A department renames a column: the whole batch is refused and nothing changes."""
    source = city.out / next(w.path for w in city.files if w.dataset == "business_registration")
    broken = settings.home / "demo" / "business_registration_renamed_column.csv"
    broken.parent.mkdir(parents=True, exist_ok=True)
    text = source.read_text(encoding="utf-8")
    header, _, body = text.partition("\n")
    broken.write_text(header.replace("企业名称", "公司名字", 1) + "\n" + body, encoding="utf-8")
    dataset = done.catalogue.dataset("business_registration")
    batch, created = register_file(done.engine, settings, dataset, broken)
    if created or batch.status not in ("accepted", "refused"):
        from pipelines.runner import project_instance, run_batch

        run_batch(batch, instance=project_instance(settings))
    return BatchOutcome.of(get_batch(done.engine, batch.id))


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
