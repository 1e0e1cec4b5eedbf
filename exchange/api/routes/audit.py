"""The auditor's endpoints: the log's checkpoints and proofs, who accessed a subject's data, and
the lineage of a licence or a served record.

Reading an access report or a record's lineage names a subject, so it is itself an access and
goes into the log (kind ``lookup``) before the answer leaves, like any other lookup.
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, BaseModel, Field

from exchange.api.auditing import LookupPurpose, traced_lookup
from exchange.api.deps import BIG_MAX, INT_MAX, AuditorDep, OperatorDep, OversightDep, ServicesDep
from exchange.audit import ProofError, access_report
from exchange.audit.checkpoint import Checkpoint
from exchange.audit.log import b64
from exchange.audit.wiring import checkpoint, verify
from exchange.errors import InvalidRequest, NotFound
from exchange.identifiers.subjects import validate_subject
from exchange.ingest.history import to_utc
from exchange.lineage.trace import RecordNotFound, trace_licence, trace_record

router = APIRouter(prefix="/audit", tags=["audit"])


class AccessQuery(LookupPurpose):
    subject: str = Field(max_length=40, description="The resident ID number or USCC.")
    since: AwareDatetime | None = None


class RecordLineageQuery(LookupPurpose):
    dataset: str = Field(max_length=63)
    subject: str = Field(max_length=40)
    as_of: AwareDatetime | None = Field(default=None, description="A time (with zone), or…")
    version: int | None = Field(default=None, ge=1, le=INT_MAX, description="…a version.")


class CheckpointOut(BaseModel):
    origin: str
    size: int
    root: str
    time: datetime
    key_id: str
    note: str


def _checkpoint_out(signed: Checkpoint) -> CheckpointOut:
    return CheckpointOut(
        origin=signed.origin,
        size=signed.size,
        root=b64(signed.root),
        time=signed.time,
        key_id=signed.key_id,
        note=signed.note,
    )


@router.get("/checkpoint", summary="The newest signed checkpoint (C2SP tlog-checkpoint note)")
def latest_checkpoint(_principal: OversightDep, services: ServicesDep) -> CheckpointOut:
    signed = services.audit.latest_checkpoint()
    if signed is None:
        raise NotFound("no checkpoint has been signed yet", code="no_checkpoint")
    return _checkpoint_out(signed)


@router.post("/checkpoint", status_code=201, summary="Sign a checkpoint of the log now")
def sign_checkpoint(_principal: OperatorDep, services: ServicesDep) -> CheckpointOut:
    return _checkpoint_out(checkpoint(services.settings, services.engine))


@router.get("/verify", summary="Recompute the tree and check every checkpoint")
def verify_log(_principal: OversightDep, services: ServicesDep) -> dict[str, Any]:
    return verify(services.settings, services.engine).as_dict()


@router.get("/entries/{index}/proof", summary="RFC 9162 inclusion proof of one entry")
def inclusion_proof(
    index: Annotated[int, Path(ge=0, le=BIG_MAX)],
    _principal: AuditorDep,
    services: ServicesDep,
    tree_size: Annotated[int | None, Query(ge=1, le=BIG_MAX)] = None,
) -> dict[str, Any]:
    try:
        made = services.audit.inclusion_proof(index, tree_size)
        stored = services.audit.entry(index)
    except ProofError as exc:
        raise NotFound(str(exc), code="no_such_entry") from exc
    return {**made.as_dict(), "leaf": stored.leaf}


@router.get("/consistency", summary="RFC 9162 consistency proof between two tree sizes")
def consistency_proof(
    _principal: AuditorDep,
    services: ServicesDep,
    old_size: Annotated[int, Query(ge=1, le=BIG_MAX)],
    new_size: Annotated[int | None, Query(ge=1, le=BIG_MAX)] = None,
) -> dict[str, Any]:
    try:
        return services.audit.consistency_proof(old_size, new_size).as_dict()
    except ProofError as exc:
        raise InvalidRequest(str(exc), code="bad_tree_sizes") from exc


@router.post("/access", summary="Who accessed a subject's records and licences, when and why")
def access(body: AccessQuery, principal: AuditorDep, services: ServicesDep) -> dict[str, Any]:
    def run() -> list[dict[str, Any]]:
        key = validate_subject(body.subject)
        entries = access_report(
            services.engine,
            subject=key,
            subject_secret=services.settings.passphrase,
            since=None if body.since is None else to_utc(body.since),
        )
        return [entry.as_dict() for entry in entries]

    entries, index = traced_lookup(
        services.audit,
        principal,
        body,
        subject=body.subject,
        run=run,
        summary=lambda found: {"report": "access", "entries": len(found)},
    )
    return {"entries": entries, "audit_entry": index}


@router.get("/lineage/licences/{licence_id}", summary="A licence's chain back to its source file")
def licence_lineage(
    licence_id: str, _principal: AuditorDep, services: ServicesDep
) -> dict[str, Any]:
    return trace_licence(services.engine, licence_id).as_dict()


@router.post("/lineage/records", summary="A served record's chain back to its source file")
def record_lineage(
    body: RecordLineageQuery, principal: AuditorDep, services: ServicesDep
) -> dict[str, Any]:
    if body.as_of is not None and body.version is not None:
        raise InvalidRequest("ask as of a version or as of a time, not both", code="as_of_both")
    try:
        services.catalogue.dataset(body.dataset)
    except KeyError:
        raise InvalidRequest(f"no dataset {body.dataset!r}", code="unknown_dataset") from None

    def run() -> dict[str, Any]:
        try:
            return trace_record(
                services.engine,
                body.dataset,
                validate_subject(body.subject),
                version=body.version,
                at=None if body.as_of is None else to_utc(body.as_of),
            ).as_dict()
        except RecordNotFound as exc:
            raise NotFound(str(exc), code="no_record") from exc

    trace, index = traced_lookup(
        services.audit,
        principal,
        body,
        subject=body.subject,
        run=run,
        summary=lambda _trace: {"report": "lineage", "dataset": body.dataset},
    )
    return {**trace, "audit_entry": index}
