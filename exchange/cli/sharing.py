"""`onceonly sharing`: sharing requests (有条件共享) from the operator's console — an organisation
asks a department for conditional or sensitive fields of its dataset; the department approves or
refuses. ``--by`` names the organisation acting; the audit log records it as ``cli:<by>``.

A request the rules refuse (unknown field, not shared, past expiry…) exits with code 2, like a
refused batch; a request that may not be decided now (not the provider, already decided, unknown
id) with code 1. The message names what is wrong and ends with the error's code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from catalog.loader import load_catalogue
from exchange.access.models import SharingStatus
from exchange.access.sharing import SharingBook, SharingRequestView
from exchange.audit.wiring import audit_log
from exchange.cli.console import fail, out
from exchange.errors import ExchangeError, InvalidRequest
from exchange.settings import get_settings
from exchange.store.base import utcnow
from exchange.store.engine import make_engine

CHINA = ZoneInfo("Asia/Shanghai")
ROLE = "operator"  # the CLI is the operator's local tool, as for `onceonly licences`

app = typer.Typer(
    help="Sharing requests (有条件共享): request, approve, refuse, list.", no_args_is_help=True
)

By = Annotated[str, typer.Option("--by", help="The organisation acting (a department's code…).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")]
RequestId = Annotated[int, typer.Argument(help="The sharing request's number.")]


@contextmanager
def _book(by: str) -> Iterator[SharingBook]:
    """A sharing book over the configured store, acting as ``cli:<by>``, committed when the
    command succeeds; a refusal becomes the command's one-line error."""
    settings = get_settings()
    engine = make_engine(settings=settings)
    try:
        catalogue = load_catalogue(settings.catalog_dir)
        with audit_log(settings, engine) as log, Session(engine) as session, session.begin():
            yield SharingBook(session, catalogue, log, actor=f"cli:{by}", role=ROLE)
    except ExchangeError as exc:
        code = 2 if isinstance(exc, InvalidRequest) else 1
        raise fail(f"{exc.message} ({exc.code})", code) from exc
    finally:
        engine.dispose()


def _names(text: str | None) -> list[str]:
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def parse_expiry(text: str) -> datetime:
    """``YYYY-MM-DD``: valid through that day, China Standard Time (the request ends at the next
    midnight there); or an ISO 8601 time, China Standard Time unless it states an offset."""
    text = text.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return datetime.combine(day + timedelta(days=1), time(), tzinfo=CHINA).astimezone(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"--expires {text!r}: give a date (2027-12-31) or an ISO 8601 time", 2) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA)
    return moment.astimezone(UTC)


def _china(moment: datetime | None) -> str:
    """A time in China Standard Time; midnight as the end of the day before (``24:00``), so
    ``--expires 2027-12-31`` shows as ``2027-12-31 24:00``, the day the operator typed."""
    if moment is None:
        return ""
    local = moment.astimezone(CHINA)
    if local.time() == time():
        return f"{local.date() - timedelta(days=1)} 24:00"
    return f"{local:%Y-%m-%d %H:%M}"


def _state(view: SharingRequestView, now: datetime) -> str:
    if view.status is SharingStatus.APPROVED:
        return "[green]approved[/]" if view.in_force(now) else "approved [dim](expired)[/]"
    if view.status is SharingStatus.REFUSED:
        return "[red]refused[/]"
    return "[yellow]requested[/]" if now < view.expires_at else "requested [dim](expired)[/]"


def _print(view: SharingRequestView) -> None:
    out.print(f"sharing request {view.id}", highlight=False)
    table = Table(show_header=False, box=None)
    table.add_row("requester", view.requester)
    table.add_row("provider", view.provider)
    table.add_row("dataset", view.dataset)
    table.add_row("fields", ", ".join(view.fields))
    table.add_row("purpose", view.purpose)
    table.add_row("service items", ", ".join(view.service_items) or "any")
    table.add_row("expires", f"{_china(view.expires_at)} (China time)")
    table.add_row("status", _state(view, utcnow()))
    table.add_row("requested", f"{_china(view.requested_at)} by {view.requested_by}")
    if view.decided_at is not None:
        reason = f": {view.decision_reason}" if view.decision_reason else ""
        table.add_row("decided", f"{_china(view.decided_at)} by {view.decided_by}{reason}")
    out.print(table)


def _show(view: SharingRequestView, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(view.as_dict(), ensure_ascii=False))
    else:
        _print(view)


@app.command()
def request(
    by: By,
    dataset: Annotated[str, typer.Option("--dataset", help="The dataset's catalogue code.")],
    fields: Annotated[str, typer.Option("--fields", help="Field names, comma-separated.")],
    purpose: Annotated[str, typer.Option("--purpose", help="What the fields are needed for.")],
    expires: Annotated[
        str,
        typer.Option(
            "--expires", help="Last day (YYYY-MM-DD, China time) or an ISO 8601 time; ≤ 3 years."
        ),
    ],
    items: Annotated[
        str | None,
        typer.Option("--items", help="Only for these service items' codes, comma-separated."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Ask the department that provides DATASET for some of its conditional or sensitive
    fields, for a purpose, until a date."""
    expires_at = parse_expiry(expires)
    with _book(by) as book:
        view = book.request(
            requester=by,
            dataset=dataset,
            fields=_names(fields),
            purpose=purpose,
            expires_at=expires_at,
            service_items=_names(items),
        )
    _show(view, as_json)


@app.command()
def approve(
    request_id: RequestId,
    by: Annotated[str, typer.Option("--by", help="The providing department's code.")],
    reason: Annotated[str, typer.Option("--reason", help="Recorded with the decision.")] = "",
    as_json: AsJson = False,
) -> None:
    """Approve a request, as the department that provides the dataset."""
    with _book(by) as book:
        view = book.approve(request_id, by_department=by, reason=reason)
    _show(view, as_json)


@app.command()
def refuse(
    request_id: RequestId,
    by: Annotated[str, typer.Option("--by", help="The providing department's code.")],
    reason: Annotated[str, typer.Option("--reason", help="Why: the requester is owed one.")],
    as_json: AsJson = False,
) -> None:
    """Refuse a request, as the department that provides the dataset, with the reason."""
    with _book(by) as book:
        view = book.refuse(request_id, by_department=by, reason=reason)
    _show(view, as_json)


@app.command()
def show(request_id: RequestId, as_json: AsJson = False) -> None:
    """One sharing request, with its decision."""
    with _book("operator") as book:
        view = book.get(request_id)
    _show(view, as_json)


@app.command(name="list")
def list_requests(
    by: Annotated[
        str | None, typer.Option("--by", help="Requests made by this organisation.")
    ] = None,
    provider: Annotated[
        str | None, typer.Option("--provider", help="Requests to this department.")
    ] = None,
    status: Annotated[
        SharingStatus | None, typer.Option("--status", help="Only requests in this state.")
    ] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", help="Only this dataset.")] = None,
    as_json: AsJson = False,
) -> None:
    """Sharing requests, oldest first: made by an organisation, addressed to a department, or
    all of them."""
    with _book("operator") as book:
        views = book.list_requests(
            organisation=by,
            as_provider=provider,
            status=None if status is None else status.value,
            dataset=dataset,
        )
    if as_json:
        typer.echo(json.dumps([view.as_dict() for view in views], ensure_ascii=False))
        return
    now = utcnow()
    table = Table(
        "id", "requester", "provider", "dataset", "fields", "status", "expires", "purpose"
    )
    for view in views:
        table.add_row(
            str(view.id),
            view.requester,
            view.provider,
            view.dataset,
            ", ".join(view.fields),
            _state(view, now),
            _china(view.expires_at),
            view.purpose,
        )
    out.print(table)
    noun = "sharing request" if len(views) == 1 else "sharing requests"
    out.print(f"{len(views)} {noun}", highlight=False)
