"""`onceonly serve`: the lookup API under uvicorn, after bringing the store up to date."""

from __future__ import annotations

from typing import Annotated

import typer

from catalog.loader import CatalogueError
from exchange.bootstrap import initialise
from exchange.cli.console import err, fail


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes; each is stateless over one store.")
    ] = 1,
) -> None:
    """Serve the API (OpenAPI at /docs). Several workers can share one PostgreSQL store; on the
    embedded SQLite store, one worker is the sensible choice."""
    import uvicorn

    try:
        done = initialise()
    except CatalogueError as exc:
        raise fail(str(exc)) from exc
    done.engine.dispose()
    err.print(f"serving the exchange on http://{host}:{port} (OpenAPI: /docs, /openapi.json)")
    uvicorn.run(
        "exchange.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
    )
