"""`onceonly init`: create or upgrade the store, its home and its catalogue; safe to run again."""

from __future__ import annotations

from catalog.loader import CatalogueError
from exchange.bootstrap import initialise
from exchange.cli.console import fail, out


def init() -> None:
    """Create or upgrade the store (Alembic migrations), the home's folders and the catalogue.
    Idempotent."""
    try:
        done = initialise()
    except CatalogueError as exc:
        raise fail(str(exc)) from exc
    url = done.engine.url.render_as_string(hide_password=True)
    out.print(f"store     [bold]{url}[/] at revision {done.revision}")
    catalogue = done.catalogue
    out.print(
        f"catalogue {len(catalogue.departments)} departments, {len(catalogue.datasets)} datasets, "
        f"{len(catalogue.licence_types)} licence types, {len(catalogue.service_items)} service "
        f"items, {len(catalogue.bundles)} bundles" + ("" if done.sync.changed else " (unchanged)")
    )
    if done.keys_created:
        out.print(f"keys      {done.keys_created} signing keys created, encrypted at rest")
