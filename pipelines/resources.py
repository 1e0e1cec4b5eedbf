"""Typed Dagster resources. Assets declare these; `pipelines.definitions` chooses their values
from the settings in one place."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr
from sqlalchemy import Engine

from catalog.loader import load_catalogue
from catalog.schema import Catalogue
from exchange.settings import Settings, get_settings
from exchange.store.engine import make_engine


class StoreResource(dg.ConfigurableResource):
    """The central SQL store and the exchange's home, as the settings describe them."""

    home: str
    database_url: str | None = None
    catalog_dir: str

    _engine: Engine | None = PrivateAttr(default=None)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> StoreResource:
        settings = settings or get_settings()
        return cls(
            home=str(settings.home),
            database_url=settings.database_url,
            catalog_dir=str(settings.catalog_dir),
        )

    @cached_property
    def settings(self) -> Settings:
        return Settings(
            home=Path(self.home), database_url=self.database_url, catalog_dir=Path(self.catalog_dir)
        )

    @cached_property
    def catalogue(self) -> Catalogue:
        return load_catalogue(Path(self.catalog_dir))

    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(settings=self.settings)
        return self._engine
