"""A department uploads a file as the next batch of one of its datasets, and reads its status.

The upload is registered at once (the same content twice is recognised by its SHA-256 and
changes nothing) and answered with ``202 Accepted`` and the batch's address; the batch then runs
through the same Dagster job as a file dropped into the inbox or `onceonly publish`, in this
worker after the response is sent. Its status moves from ``registered`` to ``accepted`` (with
the new version) or ``refused`` (with the reason): read it at ``GET /batches/{id}``.
"""

import logging
import shutil
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, File, Query, Response, UploadFile

from catalog.schema import Dataset
from exchange.access.roles import Principal, Role
from exchange.api import uploads
from exchange.api.deps import DepartmentDep, PrincipalDep, ServicesDep
from exchange.errors import Forbidden, InvalidRequest, NotFound
from exchange.ingest.batches import (
    BatchOutcome,
    UnknownBatch,
    get_batch,
    list_batches,
    register_file,
)
from exchange.ingest.models import Batch, BatchMode, BatchStatus

router = APIRouter(prefix="/batches", tags=["batches"])
log = logging.getLogger("onceonly.api")


def _own_dataset(services: Any, principal: Principal, code: str) -> Dataset:
    try:
        dataset = services.catalogue.dataset(code)
    except KeyError:
        raise InvalidRequest(
            f"no dataset {code!r} in the catalogue", code="unknown_dataset"
        ) from None
    if dataset.department != principal.department:
        raise Forbidden(
            f"dataset {code!r} is published by {dataset.department}, not by "
            f"{principal.organisation}",
            code="not_your_dataset",
        )
    return dataset


def _readable(principal: Principal, batch: Batch) -> None:
    if principal.role in (Role.OPERATOR, Role.AUDITOR):
        return
    if principal.role is Role.DEPARTMENT and batch.department_code == principal.department:
        return
    raise Forbidden("only the publishing department reads its batches", code="not_your_batch")


@router.post("", status_code=202, summary="Upload a file as the next batch of your dataset")
def upload_batch(
    file: Annotated[UploadFile, File(description="CSV, Excel .xlsx, Parquet or JSON lines")],
    principal: DepartmentDep,
    services: ServicesDep,
    background: BackgroundTasks,
    response: Response,
    dataset: Annotated[str, Query(max_length=63, description="The dataset's catalogue code.")],
    mode: Annotated[
        BatchMode, Query(description="full: the whole dataset; delta: changes")
    ] = BatchMode.FULL,
) -> dict[str, Any]:
    entry = _own_dataset(services, principal, dataset)
    settings = services.settings
    stored = uploads.receive(file, settings.home / "uploads", max_bytes=settings.max_upload_bytes)
    try:
        batch, created = register_file(services.engine, settings, entry, stored, mode=mode.value)
    finally:
        shutil.rmtree(stored.parent, ignore_errors=True)  # the batch keeps its own copy
    if created or batch.status == BatchStatus.REGISTERED:
        background.add_task(_publish, services, batch)
    else:
        response.status_code = 200
    outcome = BatchOutcome.of(batch, already_known=not created)
    response.headers["Location"] = f"/batches/{batch.id}"
    return outcome.as_dict()


def _publish(services: Any, batch: Batch) -> None:
    from pipelines.runner import PublishFailed, publish_batch

    try:
        publish_batch(services.settings, services.engine, batch)
    except PublishFailed as exc:
        log.error("%s", exc)


@router.get("/{batch_id}", summary="A batch's status and outcome")
def read_batch(batch_id: str, principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    try:
        batch = get_batch(services.engine, batch_id)
    except UnknownBatch:
        raise NotFound(f"no batch {batch_id!r}", code="unknown_batch") from None
    _readable(principal, batch)
    return BatchOutcome.of(batch).as_dict()


@router.get("", summary="Recent batches: a department's own, or all for oversight")
def recent_batches(
    principal: PrincipalDep,
    services: ServicesDep,
    dataset: Annotated[str | None, Query(max_length=63)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    if principal.role is Role.PLATFORM:
        raise Forbidden("the acceptance platform does not read batches", code="wrong_role")
    if principal.role is Role.DEPARTMENT:
        if dataset is None:
            raise InvalidRequest(
                "a department lists the batches of one of its datasets: give ?dataset=",
                code="missing_dataset",
            )
        _own_dataset(services, principal, dataset)
    return [
        BatchOutcome.of(b).as_dict()
        for b in list_batches(services.engine, dataset=dataset, limit=limit)
    ]
