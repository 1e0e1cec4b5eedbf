"""Typed Dagster resources. Assets declare these; `pipelines.definitions` chooses their values
from the settings in one place."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr
from sqlalchemy import Engine

from catalog.loader import load_catalogue
from catalog.schema import Catalogue
from exchange.settings import Settings, get_settings
from exchange.store.engine import make_engine


class StoreResource(dg.ConfigurableResource):
    """The central SQL store and the exchange's home.

    Left empty (as `pipelines.definitions` does), it follows the settings of the process that
    runs the step, read when the step runs: the Dagster webserver, `onceonly publish` and a test
    with its own ONCEONLY_HOME each get their own store. `from_settings` pins explicit ones.
    """

    home: str | None = None
    database_url: str | None = None
    catalog_dir: str | None = None

    _engine: Engine | None = PrivateAttr(default=None)

    @classmethod
    def from_settings(cls, settings: Settings) -> StoreResource:
        return cls(
            home=str(settings.home),
            database_url=settings.database_url,
            catalog_dir=str(settings.catalog_dir),
        )

    @property
    def settings(self) -> Settings:
        if self.home is None:
            return get_settings()
        pinned: dict[str, object] = {"home": Path(self.home), "database_url": self.database_url}
        if self.catalog_dir is not None:
            pinned["catalog_dir"] = Path(self.catalog_dir)
        return Settings(**pinned)

    @property
    def catalogue(self) -> Catalogue:
        return _catalogue(self.settings.catalog_dir)

    def engine(self) -> Engine:
        settings = self.settings
        if self._engine is None or self._engine.url.render_as_string(False) != settings.store_url:
            self._engine = make_engine(settings=settings)
        return self._engine


@lru_cache(maxsize=4)
def _catalogue(directory: Path) -> Catalogue:
    """The catalogue is read once per directory and process: assets of every run share it."""
    return load_catalogue(directory)
