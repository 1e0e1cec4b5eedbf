"""Bring a store to a usable state: the newest schema and the reviewed catalogue loaded.

`onceonly init`, `onceonly catalog load`, the Dagster `catalogue` asset and the demo all start
here, so "a usable store" means one thing everywhere. A usable store also has a signing key for
every department and for the exchange itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from catalog.loader import catalogue_files, load_catalogue
from catalog.schema import Catalogue
from catalog.sync import SyncResult, sync_catalogue
from exchange.settings import Settings, get_settings
from exchange.store.engine import make_engine
from exchange.store.migrate import upgrade
from licences.keys import ensure_keys
from licences.models import EXCHANGE_OWNER


@dataclass(frozen=True)
class Initialised:
    engine: Engine
    revision: str | None
    catalogue: Catalogue
    sync: SyncResult
    keys_created: int = 0


def initialise(settings: Settings | None = None, *, engine: Engine | None = None) -> Initialised:
    """Create the home's folders, migrate the store to head and load the catalogue. Idempotent:
    a second call changes nothing and records no new catalogue revision."""
    settings = settings or get_settings()
    settings.ensure_home()
    engine = engine or make_engine(settings=settings)
    revision = upgrade(engine)
    catalogue = load_catalogue(settings.catalog_dir)
    result = sync_catalogue(engine, catalogue, files=catalogue_files(settings.catalog_dir))
    owners = [EXCHANGE_OWNER, *(department.code for department in catalogue.departments)]
    with Session(engine) as session, session.begin():
        created = ensure_keys(session, owners, passphrase=settings.passphrase)
    return Initialised(
        engine=engine,
        revision=revision,
        catalogue=catalogue,
        sync=result,
        keys_created=len(created),
    )
