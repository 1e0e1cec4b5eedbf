"""Every endpoint × every role × own versus another department's resources: allowed or refused.

The "own" department is market regulation (it publishes the business register and issues
business licences); civil affairs is "another department" asking for market regulation's
resources. Each case says who may: everyone else must get 403 (401 without a token). An allowed
call may still fail for a domain reason (409 for a licence in the wrong state, 404 for a proof
of an entry that does not exist), but never with 401/403 and never with a 5xx.

A last test checks the matrix covers every route the OpenAPI description lists, so a new
endpoint cannot ship without its row here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_helpers import Api, api_over
from licence_helpers import BUSINESS_LICENCE, business_fields, company
from sqlalchemy.orm import Session

from exchange.access.sharing import SharingBook
from exchange.audit.wiring import checkpoint
from exchange.ingest.batches import register_file
from exchange.settings import Settings, get_settings
from exchange.store.engine import make_engine
from licences.issuance import LicenceBook, Lineage, NewLicence

ROLES = ("anonymous", "market", "civil", "platform", "auditor", "operator")
PUBLIC = frozenset(ROLES)
MARKET = "market_regulation"
ITEM = "330100-XK-0201"  # 企业设立登记, an item the platform serves
PURPOSE = {"purpose": "企业开办一件事受理", "service_item": ITEM}


@dataclass
class World:
    api: Api
    settings: Settings
    serial: Iterator[int]
    batch_file: Path = Path()  # a business register file, registered as `batch_id`
    batch_id: str = ""
    licence_id: str = ""  # a business licence of market regulation's

    def licence(self) -> str:
        """A fresh business licence issued by market regulation."""
        number = next(self.serial)
        with Session(self.api.engine) as session, session.begin():
            book = LicenceBook(
                session,
                self.api.client.app.state.services.catalogue,
                passphrase=self.settings.passphrase,
                urls=self.settings.urls,
            )
            (row,) = book.issue(
                BUSINESS_LICENCE,
                issuer=MARKET,
                licences=[
                    NewLicence(
                        holder=company(number),
                        holder_name=f"杭州测试{number}有限公司",
                        fields=business_fields(number),
                        lineage=Lineage(requested_by="test", request_reason="authz"),
                    )
                ],
            )
            return row.id

    def suspended_licence(self) -> str:
        licence = self.licence()
        with Session(self.api.engine) as session, session.begin():
            LicenceBook(
                session,
                self.api.client.app.state.services.catalogue,
                passphrase=self.settings.passphrase,
                urls=self.settings.urls,
            ).suspend(licence, issuer=MARKET, reason="authz")
        return licence

    def sharing_request(self) -> int:
        """A fresh request of the platform to market regulation for a conditional field."""
        services = self.api.client.app.state.services
        with Session(self.api.engine) as session, session.begin():
            view = SharingBook(
                session, services.catalogue, services.audit, actor="test", role="platform"
            ).request(
                requester="acceptance_platform",
                dataset="business_registration",
                fields=[self.conditional_field()],
                purpose="企业开办核验",
                expires_at=_in_a_year(),
            )
            return view.id

    def conditional_field(self) -> str:
        dataset = self.api.client.app.state.services.catalogue.dataset("business_registration")
        return next(
            f.name for f in dataset.fields if f.sharing and f.sharing.value != "unconditional"
        )

    def client_name(self) -> str:
        name = f"spare{next(self.serial)}"
        response = self.api.post(
            "/clients",
            "operator",
            json={"name": name, "role": "auditor", "organisation": "x_office"},
        )
        assert response.status_code == 201, response.text
        return name


def _in_a_year() -> datetime:
    return datetime.now(UTC) + timedelta(days=365)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("authz") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ONCEONLY_HOME", str(home))
        patch.delenv("ONCEONLY_DATABASE_URL", raising=False)
        get_settings.cache_clear()
        settings = get_settings()
        engine = make_engine(settings=settings)
        with api_over(engine, settings) as api:
            world = World(api, settings, itertools.count(1))
            world.batch_file = _business_csv(home.parent / "register.csv")
            services = api.client.app.state.services
            batch, _ = register_file(
                engine,
                settings,
                services.catalogue.dataset("business_registration"),
                world.batch_file,
            )
            world.batch_id = batch.id
            world.licence_id = world.licence()
            checkpoint(settings, engine)
            yield world
        engine.dispose()
    get_settings.cache_clear()


def _business_csv(path: Path) -> Path:
    fields = business_fields(999)
    header = ",".join(fields)
    path.write_text(header + "\n" + ",".join(fields.values()) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    route: str  # the OpenAPI path it covers
    allowed: frozenset[str]
    call: Callable[[World], tuple[str, dict[str, Any]]]  # -> (url, request kwargs)


def case(
    name: str,
    method: str,
    route: str,
    allowed: set[str] | frozenset[str],
    call: Callable[[World], tuple[str, dict[str, Any]]],
) -> Case:
    return Case(name, method, route, frozenset(allowed), call)


def _upload(w: World) -> tuple[str, dict[str, Any]]:
    data = w.batch_file.read_bytes()
    return (
        "/batches?dataset=business_registration",
        {"files": {"file": ("register.csv", data, "text/csv")}},
    )


def _precheck(_w: World) -> tuple[str, dict[str, Any]]:
    return "/precheck", {
        "json": {"applicant": company(1), "bundle": "business_opening", "purpose": "企业开办"}
    }


CASES = [
    # public
    case("healthz", "GET", "/healthz", PUBLIC, lambda w: ("/healthz", {})),
    case("verify document", "POST", "/verify", PUBLIC, lambda w: ("/verify", {"json": {"a": 1}})),
    case(
        "verify page",
        "GET",
        "/verify/{licence_id}",
        PUBLIC,
        lambda w: (f"/verify/{w.licence_id}", {}),
    ),
    case(
        "status list",
        "GET",
        "/status-lists/{list_id}",
        PUBLIC,
        lambda w: (f"/status-lists/{MARKET}-revocation-1", {}),
    ),
    case("jwks", "GET", "/.well-known/jwks.json", PUBLIC, lambda w: ("/.well-known/jwks.json", {})),
    case("issuer", "GET", "/issuers/{owner}", PUBLIC, lambda w: (f"/issuers/{MARKET}", {})),
    case("dcat", "GET", "/catalogue/dcat", PUBLIC, lambda w: ("/catalogue/dcat", {})),
    # batches: a department's own datasets only
    case("upload own dataset", "POST", "/batches", {"market"}, _upload),
    case(
        "read own batch",
        "GET",
        "/batches/{batch_id}",
        {"market", "auditor", "operator"},
        lambda w: (f"/batches/{w.batch_id}", {}),
    ),
    case(
        "list own batches",
        "GET",
        "/batches",
        {"market", "auditor", "operator"},
        lambda w: ("/batches?dataset=business_registration", {}),
    ),
    # lookups
    case(
        "records",
        "POST",
        "/lookups/records",
        {"market", "civil", "platform"},
        lambda w: ("/lookups/records", {"json": {"subject": company(1), **PURPOSE}}),
    ),
    case(
        "licences of a subject",
        "POST",
        "/lookups/licences",
        {"market", "civil", "platform"},
        lambda w: ("/lookups/licences", {"json": {"subject": company(1), **PURPOSE}}),
    ),
    case(
        "licence document",
        "GET",
        "/licences/{licence_id}",
        {"market", "civil", "platform"},
        lambda w: (f"/licences/{w.licence_id}", {"params": PURPOSE}),
    ),
    # licences: only the issuing department changes its own
    case(
        "issue",
        "POST",
        "/licences",
        {"market"},
        lambda w: (
            "/licences",
            {
                "json": {
                    "type_code": BUSINESS_LICENCE,
                    "holder": company(5000 + next(w.serial)),
                    "holder_name": "杭州授权测试有限公司",
                    "fields": business_fields(7),
                    "reason": "authz",
                }
            },
        ),
    ),
    case(
        "amend",
        "POST",
        "/licences/{licence_id}/amend",
        {"market"},
        lambda w: (
            f"/licences/{w.licence()}/amend",
            {"json": {"fields": business_fields(1, address="杭州市新址"), "reason": "moved"}},
        ),
    ),
    case(
        "revoke",
        "POST",
        "/licences/{licence_id}/revoke",
        {"market"},
        lambda w: (f"/licences/{w.licence()}/revoke", {"json": {"reason": "authz"}}),
    ),
    case(
        "suspend",
        "POST",
        "/licences/{licence_id}/suspend",
        {"market"},
        lambda w: (f"/licences/{w.licence()}/suspend", {"json": {"reason": "authz"}}),
    ),
    case(
        "reinstate",
        "POST",
        "/licences/{licence_id}/reinstate",
        {"market"},
        lambda w: (f"/licences/{w.suspended_licence()}/reinstate", {"json": {"reason": "ok"}}),
    ),
    # precheck and submissions: the acceptance platform
    case("precheck", "POST", "/precheck", {"platform"}, _precheck),
    case(
        "submission",
        "POST",
        "/submissions",
        {"platform"},
        lambda w: (
            "/submissions",
            {
                "json": {
                    "applicant": company(1),
                    "service_item": ITEM,
                    "materials": ["premises_proof"],
                    "purpose": "企业开办",
                }
            },
        ),
    ),
    case(
        "flags",
        "GET",
        "/submissions/flags",
        {"auditor", "operator"},
        lambda w: ("/submissions/flags", {}),
    ),
    # sharing requests
    case(
        "request sharing",
        "POST",
        "/sharing-requests",
        {"market", "civil", "platform"},
        lambda w: (
            "/sharing-requests",
            {
                "json": {
                    "dataset": "housing_fund",
                    "fields": ["account_number"],
                    "purpose": "核验公积金缴存",
                    "expires_at": _in_a_year().isoformat(),
                }
            },
        ),
    ),
    case(
        "list sharing",
        "GET",
        "/sharing-requests",
        PUBLIC - {"anonymous"},
        lambda w: ("/sharing-requests", {}),
    ),
    case(
        "read sharing",
        "GET",
        "/sharing-requests/{request_id}",
        {"market", "platform", "auditor", "operator"},
        lambda w: (f"/sharing-requests/{w.sharing_request()}", {}),
    ),
    case(
        "approve sharing",
        "POST",
        "/sharing-requests/{request_id}/approve",
        {"market"},
        lambda w: (f"/sharing-requests/{w.sharing_request()}/approve", {"json": {"reason": "ok"}}),
    ),
    case(
        "refuse sharing",
        "POST",
        "/sharing-requests/{request_id}/refuse",
        {"market"},
        lambda w: (f"/sharing-requests/{w.sharing_request()}/refuse", {"json": {"reason": "no"}}),
    ),
    # audit
    case(
        "read checkpoint",
        "GET",
        "/audit/checkpoint",
        {"auditor", "operator"},
        lambda w: ("/audit/checkpoint", {}),
    ),
    case(
        "sign checkpoint",
        "POST",
        "/audit/checkpoint",
        {"operator"},
        lambda w: ("/audit/checkpoint", {}),
    ),
    case(
        "verify log",
        "GET",
        "/audit/verify",
        {"auditor", "operator"},
        lambda w: ("/audit/verify", {}),
    ),
    case(
        "inclusion proof",
        "GET",
        "/audit/entries/{index}/proof",
        {"auditor"},
        lambda w: ("/audit/entries/0/proof", {}),
    ),
    case(
        "consistency proof",
        "GET",
        "/audit/consistency",
        {"auditor"},
        lambda w: ("/audit/consistency", {"params": {"old_size": 1}}),
    ),
    case(
        "access report",
        "POST",
        "/audit/access",
        {"auditor"},
        lambda w: ("/audit/access", {"json": {"subject": company(1), "purpose": "审计"}}),
    ),
    case(
        "licence lineage",
        "GET",
        "/audit/lineage/licences/{licence_id}",
        {"auditor"},
        lambda w: (f"/audit/lineage/licences/{w.licence_id}", {}),
    ),
    case(
        "record lineage",
        "POST",
        "/audit/lineage/records",
        {"auditor"},
        lambda w: (
            "/audit/lineage/records",
            {
                "json": {
                    "dataset": "business_registration",
                    "subject": company(1),
                    "purpose": "审计",
                }
            },
        ),
    ),
    # operator
    case("list clients", "GET", "/clients", {"operator"}, lambda w: ("/clients", {})),
    case(
        "add client",
        "POST",
        "/clients",
        {"operator"},
        lambda w: (
            "/clients",
            {
                "json": {
                    "name": f"new{next(w.serial)}",
                    "role": "platform",
                    "organisation": "acceptance_platform",
                }
            },
        ),
    ),
    case(
        "revoke client",
        "POST",
        "/clients/{name}/revoke",
        {"operator"},
        lambda w: (f"/clients/{w.client_name()}/revoke", {"json": {"reason": "authz"}}),
    ),
    case("list keys", "GET", "/keys", {"auditor", "operator"}, lambda w: ("/keys", {})),
    case(
        "rotate key",
        "POST",
        "/keys/{owner}/rotate",
        {"operator"},
        lambda w: (f"/keys/{MARKET}/rotate", {}),
    ),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", CASES, ids=[c.name for c in CASES])
def test_each_role_is_allowed_or_refused_as_it_should_be(
    world: World, endpoint: Case, role: str
) -> None:
    url, kwargs = endpoint.call(world)
    who = None if role == "anonymous" else role
    response = world.api.client.request(
        endpoint.method, url, headers=world.api.headers(who), **kwargs
    )
    body = response.text[:300]
    assert response.status_code < 500, body
    if role in endpoint.allowed:
        assert response.status_code not in (401, 403), body
    elif role == "anonymous":
        assert response.status_code == 401, body
        assert response.json()["error"] in ("missing_token",), body
    else:
        assert response.status_code == 403, body
        assert response.json()["error"], body


def test_a_wrong_or_revoked_token_is_refused(world: World) -> None:
    wrong = world.api.client.get("/keys", headers={"Authorization": "Bearer oo_not-a-token"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "unknown_token"
    name = world.client_name()
    created = world.api.post(
        "/clients", "operator", json={"name": name + "b", "role": "auditor", "organisation": "o_b"}
    ).json()
    token = {"Authorization": f"Bearer {created['token']}"}
    assert world.api.client.get("/keys", headers=token).status_code == 200
    world.api.post(f"/clients/{name}b/revoke", "operator", json={"reason": "left the office"})
    refused = world.api.client.get("/keys", headers=token)
    assert refused.status_code == 401 and refused.json()["error"] == "revoked_token"


def test_the_matrix_covers_every_route(world: World) -> None:
    spec = world.api.client.get("/openapi.json").json()
    routes = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    covered = {(c.method, c.route) for c in CASES}
    assert routes - covered == set(), "routes without a row in the authorisation matrix"
    assert covered - routes == set(), "rows for routes that do not exist"
