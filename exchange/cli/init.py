"""`onceonly init`: create or upgrade the store and the home folders; safe to run again."""

from __future__ import annotations

from exchange.cli.console import out
from exchange.settings import get_settings
from exchange.store.engine import make_engine
from exchange.store.migrate import upgrade


def init() -> None:
    """Create or upgrade the store (Alembic migrations) and the home's folders. Idempotent."""
    settings = get_settings()
    settings.ensure_home()
    engine = make_engine(settings=settings)
    revision = upgrade(engine)
    out.print(
        f"store [bold]{engine.url.render_as_string(hide_password=True)}[/] at revision {revision}"
    )
    out.print(f"home  [bold]{settings.home.resolve()}[/]")
