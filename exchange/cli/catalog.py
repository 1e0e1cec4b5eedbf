"""`onceonly catalog`: read, check, export and load the reviewed catalogue files."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from catalog.bundles import plan_bundle
from catalog.dcat import DEFAULT_BASE_URI, to_dcat
from catalog.loader import CatalogueError, load_catalogue
from catalog.schema import (
    Bundle,
    Catalogue,
    Dataset,
    Department,
    FileFormat,
    LicenceType,
    Material,
    ServiceItem,
)
from catalog.sync import SyncResult
from exchange.bootstrap import initialise
from exchange.cli.console import err, fail, out

app = typer.Typer(
    help="The catalogue: departments, datasets, licence types, materials, items and bundles.",
    no_args_is_help=True,
)


class Kind(StrEnum):
    DEPARTMENTS = "departments"
    DATASETS = "datasets"
    LICENCE_TYPES = "licence-types"
    MATERIALS = "materials"
    ITEMS = "items"
    BUNDLES = "bundles"


def _load(directory: Path | None = None) -> Catalogue:
    try:
        return load_catalogue(directory)
    except CatalogueError as exc:
        raise fail(escape(str(exc))) from None


@app.command("list")
def list_(
    kind: Annotated[
        Kind | None, typer.Option("--kind", "-k", help="list only this kind of entry")
    ] = None,
) -> None:
    """List the catalogue's entries, one table per kind."""
    catalogue = _load()
    for table_kind in [kind] if kind else list(Kind):
        out.print(_TABLES[table_kind](catalogue))


@app.command()
def show(code: Annotated[str, typer.Argument(help="the code of any catalogue entry")]) -> None:
    """Show one entry in full (every entry with that code, if several kinds share it)."""
    catalogue = _load()
    shown = False
    for entries, render in (
        (catalogue.departments, _show_department),
        (catalogue.datasets, _show_dataset),
        (catalogue.licence_types, _show_licence_type),
        (catalogue.materials, _show_material),
        (catalogue.service_items, _show_item),
        (catalogue.bundles, _show_bundle),
    ):
        for entry in entries:
            if entry.code == code:
                render(catalogue, entry)
                shown = True
    if not shown:
        raise fail(f"no catalogue entry has the code {escape(code)!r}")


@app.command()
def validate(
    directory: Annotated[
        Path | None, typer.Argument(help="catalogue directory (default: the configured one)")
    ] = None,
) -> None:
    """Check the catalogue files; exit 1 naming each problem's file and key."""
    catalogue = _load(directory)
    out.print(
        f"catalogue valid: {len(catalogue.departments)} departments, "
        f"{len(catalogue.datasets)} datasets, {len(catalogue.licence_types)} licence types, "
        f"{len(catalogue.materials)} materials, {len(catalogue.service_items)} service items, "
        f"{len(catalogue.bundles)} bundles"
    )


@app.command("export-dcat")
def export_dcat(
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="write here instead of standard output")
    ] = None,
    base_uri: Annotated[str, typer.Option(help="base of the URIs minted")] = DEFAULT_BASE_URI,
) -> None:
    """Export the datasets as DCAT-AP JSON-LD."""
    document = to_dcat(_load(), base_uri=base_uri)
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if out_file is None:
        typer.echo(text, nl=False)
        return
    out_file.write_text(text, encoding="utf-8")
    err.print(f"wrote {len(document['dcat:dataset'])} datasets to {out_file}", highlight=False)


@app.command()
def load() -> None:
    """Load the catalogue into the store (creating or upgrading the store first)."""
    try:
        result = initialise().sync
    except CatalogueError as exc:
        raise fail(str(exc)) from exc
    out.print(sync_table(result))
    if result.changed:
        out.print(f"catalogue revision {result.revision_id} recorded ({result.digest[:12]})")
    else:
        out.print("nothing changed: the store already holds this catalogue")


def sync_table(result: SyncResult) -> Table:
    """What a catalogue load changed, per kind of entry."""
    table = Table("kind", "added", "changed", "restored", "retired", "unchanged")
    for kind, counts in result.counts.items():
        table.add_row(kind, *(str(value) for value in counts.values()))
    return table


# --- tables ----------------------------------------------------------------------------------


def _departments_table(catalogue: Catalogue) -> Table:
    table = Table("code", "name", "USCC", "region", "datasets", title="departments")
    for department in catalogue.departments:
        count = sum(d.department == department.code for d in catalogue.datasets)
        table.add_row(
            department.code, department.name, department.uscc, department.region, str(count)
        )
    return table


def _datasets_table(catalogue: Catalogue) -> Table:
    columns = ("code", "name", "department", "key", "format", "updated", "sharing", "open")
    table = Table(*columns, "fields", title="datasets")
    for dataset in catalogue.datasets:
        table.add_row(
            dataset.code,
            dataset.name,
            dataset.department,
            f"{dataset.key.kind.value} {dataset.key.field}",
            _format(dataset),
            dataset.update_frequency.value,
            dataset.sharing_class.value,
            dataset.open_class.value,
            str(len(dataset.fields)),
        )
    return table


def _licence_types_table(catalogue: Catalogue) -> Table:
    columns = ("code", "name", "holder", "issuers", "source", "validity")
    table = Table(*columns, title="licence types")
    for licence in catalogue.licence_types:
        table.add_row(
            licence.code,
            licence.name,
            licence.holder_kind.value,
            ", ".join(licence.issuers),
            licence.source.dataset if licence.source else "issued directly",
            _validity(licence),
        )
    return table


def _materials_table(catalogue: Catalogue) -> Table:
    table = Table("code", "name", "satisfied by", "items", title="materials")
    for material in catalogue.materials:
        used = sum(material.code in item.materials for item in catalogue.service_items)
        table.add_row(material.code, material.name, _satisfied_by(catalogue, material), str(used))
    return table


def _items_table(catalogue: Catalogue) -> Table:
    columns = ("code", "name", "category", "subject", "department", "days (statutory/promised)")
    table = Table(*columns, "materials", title="service items")
    for item in catalogue.service_items:
        table.add_row(
            item.code,
            item.name,
            item.category.value,
            item.subject_kind.value,
            item.department,
            f"{item.statutory_days}/{item.promised_days}",
            str(len(item.materials)),
        )
    return table


def _bundles_table(catalogue: Catalogue) -> Table:
    columns = ("code", "name", "subject", "stages", "items", "materials", "time limit (days)")
    table = Table(*columns, title="bundles")
    for bundle in catalogue.bundles:
        plan = plan_bundle(catalogue, bundle.code)
        table.add_row(
            bundle.code,
            bundle.name,
            bundle.subject_kind.value,
            str(len(bundle.stages)),
            str(len(bundle.items)),
            str(len(plan.materials)),
            str(plan.time_limit.days),
        )
    return table


_TABLES = {
    Kind.DEPARTMENTS: _departments_table,
    Kind.DATASETS: _datasets_table,
    Kind.LICENCE_TYPES: _licence_types_table,
    Kind.MATERIALS: _materials_table,
    Kind.ITEMS: _items_table,
    Kind.BUNDLES: _bundles_table,
}


# --- one entry ---------------------------------------------------------------------------------


def _heading(kind: str, code: str, name: str) -> None:
    out.print(f"\n[bold]{kind}[/] {escape(code)}  {escape(name)}", highlight=False)


def _facts(*facts: tuple[str, str]) -> None:
    for label, value in facts:
        out.print(f"  [dim]{label}:[/] {escape(value)}", highlight=False)


def _show_department(catalogue: Catalogue, department: Department) -> None:
    _heading("department", department.code, department.name)
    datasets = [d.code for d in catalogue.datasets if d.department == department.code]
    items = [i.code for i in catalogue.service_items if i.department == department.code]
    _facts(
        ("English", department.name_en),
        ("USCC", department.uscc),
        ("region", department.region),
        ("datasets", ", ".join(datasets) or "none"),
        ("items", ", ".join(items) or "none"),
        ("description", department.description),
    )


def _show_dataset(catalogue: Catalogue, dataset: Dataset) -> None:
    _heading("dataset", dataset.code, dataset.name)
    _facts(
        ("English", dataset.name_en),
        ("department", f"{dataset.department} {catalogue.department(dataset.department).name}"),
        ("key", f"{dataset.key.field} ({dataset.key.kind.value})"),
        ("format", _format(dataset)),
        ("updated", dataset.update_frequency.value),
        ("quarantine", f"at most {dataset.max_quarantine_rate:.1%} of rows"),
        ("sharing", dataset.sharing_class.value),
        ("open data", dataset.open_class.value),
        ("legal basis", dataset.legal_basis or "-"),
        ("keywords", ", ".join(dataset.keywords)),
        ("description", dataset.description),
    )
    table = Table("field", "title", "type", "required", "sensitive", "sharing", "aliases")
    for field in dataset.fields:
        kind = field.type.value
        if field.values:
            kind += f" ({'|'.join(field.values)})"
        if field.name == dataset.key.field:
            kind += " key"
        table.add_row(
            field.name,
            field.title,
            escape(kind),
            _yes(field.required),
            _yes(field.sensitive),
            (field.sharing or dataset.sharing_class).value,
            ", ".join(field.aliases),
        )
    out.print(table)


def _show_licence_type(catalogue: Catalogue, licence: LicenceType) -> None:
    _heading("licence type", licence.code, licence.name)
    source = licence.source
    _facts(
        ("English", licence.name_en),
        ("holder", licence.holder_kind.value),
        ("issuers", ", ".join(licence.issuers)),
        ("validity", _validity(licence)),
        (
            "source",
            f"dataset {source.dataset}, holder name from {source.holder_name_field}"
            if source
            else "issued directly",
        ),
        ("description", licence.description),
    )
    table = Table("field", "title", "type", "from dataset field")
    for field in licence.fields:
        origin = source.mapping.get(field.name, "-") if source else "-"
        table.add_row(field.name, field.title, field.type.value, origin)
    out.print(table)


def _show_material(catalogue: Catalogue, material: Material) -> None:
    _heading("material", material.code, material.name)
    used = [item.code for item in catalogue.service_items if material.code in item.materials]
    _facts(
        ("satisfied by", _satisfied_by(catalogue, material)),
        ("needed by", ", ".join(used) or "no item"),
        ("description", material.description),
    )


def _show_item(catalogue: Catalogue, item: ServiceItem) -> None:
    _heading("service item", item.code, item.name)
    _facts(
        ("category", item.category.value),
        ("subject", item.subject_kind.value),
        ("department", f"{item.department} {catalogue.department(item.department).name}"),
        ("legal basis", item.legal_basis),
        (
            "time limit",
            f"statutory {item.statutory_days}, promised {item.promised_days} working days",
        ),
    )
    table = Table("material", "name", "satisfied by")
    for code in item.materials:
        material = catalogue.material(code)
        table.add_row(code, material.name, _satisfied_by(catalogue, material))
    out.print(table)


def _show_bundle(catalogue: Catalogue, bundle: Bundle) -> None:
    _heading("bundle", bundle.code, bundle.name)
    plan = plan_bundle(catalogue, bundle.code)
    stages = " → ".join(" ‖ ".join(stage) for stage in bundle.stages)
    _facts(
        ("English", bundle.name_en),
        ("subject", bundle.subject_kind.value),
        ("stages", stages),
        ("time limit", plan.time_limit.explain()),
        ("description", bundle.description),
    )
    table = Table("material", "name", "needed by", "satisfied by", title="merged material list")
    for merged in plan.materials:
        table.add_row(
            merged.material.code,
            merged.material.name,
            ", ".join(merged.items),
            _satisfied_by(catalogue, merged.material),
        )
    out.print(table)


# --- small renderings --------------------------------------------------------------------------


def _format(dataset: Dataset) -> str:
    encoding = dataset.encoding.value if dataset.encoding else None
    if dataset.format is FileFormat.CSV:
        return f"csv, {encoding or 'encoding detected'}"
    return dataset.format.value


def _validity(licence: LicenceType) -> str:
    return f"{licence.validity_years} years" if licence.validity_years else "long-term"


def _satisfied_by(catalogue: Catalogue, material: Material) -> str:
    ways = []
    for source in material.sources:
        if source.licence_type is not None:
            ways.append(f"licence {catalogue.licence_type(source.licence_type).name}")
        else:
            ways.append(f"{source.dataset} ({', '.join(source.fields)})")
    if material.commitment_allowed:
        ways.append("written commitment (告知承诺)")
    return "; ".join(ways) or "applicant only"


def _yes(flag: bool) -> str:
    return "yes" if flag else ""
