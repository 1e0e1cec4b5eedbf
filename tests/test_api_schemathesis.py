"""Schemathesis against the OpenAPI description: whatever a client sends that the description
allows (and much that it does not), no operation answers with a server error.

Each operation is called as a client whose role may use it (from the authorisation matrix), so
the generated requests get past authentication into the handlers, where malformed identifiers,
unknown codes, odd dates and oversize values must all become 4xx answers with an error code.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from api_helpers import Api, api_over
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from test_api_authz import CASES

from exchange.settings import get_settings
from exchange.store.engine import make_engine

ROLE_FOR = {
    (case.method, case.route): sorted(case.allowed - {"anonymous"} or {"operator"})[0]
    for case in CASES
}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    home: Path = tmp_path_factory.mktemp("schemathesis") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ONCEONLY_HOME", str(home))
        patch.delenv("ONCEONLY_DATABASE_URL", raising=False)
        get_settings.cache_clear()
        settings_ = get_settings()
        engine = make_engine(settings=settings_)
        with api_over(engine, settings_) as api:
            yield api
        engine.dispose()
    get_settings.cache_clear()


def _fuzz(operation: Any, headers: dict[str, str]) -> None:
    """Up to 20 generated requests to one operation; none may be answered with a 5xx."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=20,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    check()


def test_no_request_makes_a_server_error(api: Api) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(ROLE_FOR)  # every operation, as the matrix knows them
    for operation in operations:
        role = ROLE_FOR[(operation.method.upper(), operation.path)]
        _fuzz(operation, api.headers(role))
