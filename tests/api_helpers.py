"""Test clients from one factory (STYLE.md 11): an app over a fresh store, and one bearer token
per role — two departments, so "own" and "another department's" can both be asked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from exchange.access import clients
from exchange.access.roles import Role
from exchange.api.app import create_app
from exchange.bootstrap import initialise
from exchange.settings import Settings

#: name -> (role, organisation) of the clients every API test gets.
CLIENTS = {
    "market": (Role.DEPARTMENT, "market_regulation"),
    "civil": (Role.DEPARTMENT, "civil_affairs"),
    "platform": (Role.PLATFORM, "acceptance_platform"),
    "auditor": (Role.AUDITOR, "audit_office"),
    "operator": (Role.OPERATOR, "data_bureau"),
}


@dataclass
class Api:
    client: TestClient
    tokens: dict[str, str]
    engine: Engine
    settings: Settings

    def headers(self, who: str | None) -> dict[str, str]:
        return {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, path: str, who: str | None = None, **kwargs):  # type: ignore[no-untyped-def]
        return self.client.get(path, headers=self.headers(who), **kwargs)

    def post(self, path: str, who: str | None = None, **kwargs):  # type: ignore[no-untyped-def]
        return self.client.post(path, headers=self.headers(who), **kwargs)


def add_clients(engine: Engine, settings: Settings) -> dict[str, str]:
    """One client per entry of `CLIENTS`; their tokens by name."""
    from exchange.audit.wiring import audit_log

    catalogue = initialise(settings, engine=engine).catalogue
    tokens = {}
    with (
        audit_log(settings, engine) as log,
        Session(engine, expire_on_commit=False) as session,
        session.begin(),
    ):
        for name, (role, organisation) in CLIENTS.items():
            made = clients.add_client(
                session,
                catalogue,
                log,
                name=name,
                role=role,
                organisation=organisation,
                actor="test",
            )
            tokens[name] = made.token
    return tokens


@contextmanager
def api_over(engine: Engine, settings: Settings) -> Iterator[Api]:
    """The API over ``engine`` (initialised here), with the test clients added."""
    tokens = add_clients(engine, settings)
    with TestClient(create_app(settings, engine=engine), raise_server_exceptions=False) as client:
        yield Api(client, tokens, engine, settings)
