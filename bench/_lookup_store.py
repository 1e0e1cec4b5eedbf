"""The store `bench.lookup` measures: a synthetic city ingested and its licences derived, built
once into a cache folder and reused.

Building a city of 10^6 people takes about a quarter of an hour (14 minutes on the 2-core
machine: synth 1, ingest 2.5, licences 11), far longer than the measurements, so it is built
once into ``var/bench/lookup-<people>/`` and reused while its key holds: the sizes, the seed,
the licence plan and a digest of what decides the store's shape and data (the migrations, the
catalogue, the synth, this module). Changes to the ingest or licence code elsewhere do not
rebuild it (those packages change daily, and a rebuild costs a quarter of an hour); one that
changes what they write without a migration needs ``--rebuild`` or a bump of `BUILD_FORMAT`.
A licence format that no longer verifies would show in the report's outcome mix. The manifest
records the commit the store was built at. The build writes ``build.json`` last, so a build
that was interrupted is never taken for a finished one.

What goes in, as `onceonly demo` puts it there:

* every department's file of the synthetic city, each through the real ingest
  (`register_file` + `process_batch`: the function the Dagster ingest asset runs; Dagster's own
  bookkeeping is left out, it adds nothing to the store);
* licences derived by `licences.derivation.derive` from their source datasets. Deriving every
  type for 10^6 people takes ~30 minutes at ~2,200-2,800 licences/s, one writer at a time
  (SQLite holds the write lock for a whole derivation, so two cannot overlap, nor a derivation
  and an ingest). Types are derived in full, smallest source first, while the derivations so
  far plus the next one (at the rate measured so far) fit ``licence_budget`` seconds. The
  larger types left over are issued *per holder*: to the reserved applicants (the only ones the
  benchmark asks about) plus, if the table is still short of `MIN_LICENCE_ROWS` rows, enough
  others drawn at random, through the same mapping, lineage and `LicenceBook.issue` that
  `derive` uses (`issue_for_holders`), so each reserved applicant holds exactly what a full
  derivation would have given them. The report prints per type how it was loaded;
* an approved sharing request of the acceptance platform for every conditional and sensitive
  field of every dataset, decided by each providing department through `SharingBook`, so that
  conditional datasets serve (otherwise most answers would be ``not_shared``).
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from catalog.schema import Catalogue
from exchange.access.policy import requestable
from exchange.access.sharing import SharingBook, latest_expiry
from exchange.audit.wiring import audit_log
from exchange.bootstrap import initialise
from exchange.ingest.batches import process_batch, register_file
from exchange.ingest.history import version_changes
from exchange.ingest.models import Record
from exchange.settings import Settings
from exchange.store.base import utcnow
from exchange.synth import SynthOptions, synthesise
from licences import derivation
from licences.issuance import LicenceBook, NewLicence
from licences.models import LicenceVersion

#: Bumped when what the build puts into the store changes in a way the digest cannot see.
BUILD_FORMAT = 1
PLATFORM = "acceptance_platform"
MANIFEST = "build.json"
APPLICANTS = "applicants.json"
#: The licence table holds at least this many rows when licences are not derived in full.
MIN_LICENCE_ROWS = 1_000_000
REPO = Path(__file__).resolve().parent.parent
CACHE_ROOT = REPO / "var" / "bench"
#: What decides the store's content; a change to any of these files rebuilds the cache.
CODE_PATHS = (
    "exchange/store/migrations/versions",
    "catalog",
    "exchange/synth",
    "bench/_lookup_store.py",
)


@dataclass(frozen=True)
class StorePlan:
    """What to build; everything here is part of the cache key."""

    people: int
    orgs: int
    seed: int
    licence_budget: float  # seconds of full derivation allowed in all; past it, types are sampled
    reserved: int  # applicants per kind whose licences are issued when a type is sampled

    def key(self) -> dict[str, Any]:
        return {
            "people": self.people,
            "orgs": self.orgs,
            "seed": self.seed,
            "licence_budget": self.licence_budget,
            "reserved": self.reserved,
            "format": BUILD_FORMAT,
            "code": code_digest(),
        }


def code_digest() -> str:
    digest = hashlib.sha256()
    for root in CODE_PATHS:
        path = REPO / root
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for file in files:
            if file.is_file() and file.suffix in (".py", ".yaml", ".yml", ".toml"):
                digest.update(str(file.relative_to(REPO)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def cache_dir(plan: StorePlan) -> Path:
    default_orgs = plan.orgs == max(plan.people // 5, 20)
    name = f"lookup-{plan.people}" if default_orgs else f"lookup-{plan.people}-{plan.orgs}orgs"
    return CACHE_ROOT / name


def settings_for(home: Path) -> Settings:
    """The bench store's settings: SQLite in ``home``, whatever the environment says."""
    return Settings(home=home, database_url=None)


def cached_manifest(folder: Path, plan: StorePlan) -> dict[str, Any] | None:
    """The finished build in ``folder`` if its key is the plan's, else None."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    manifest = json.loads(path.read_text(encoding="utf-8"))
    return manifest if manifest.get("key") == plan.key() else None


# --- the build (runs in a process of its own: module-level, picklable) ------------------------


def build_store(folder: Path, plan: StorePlan) -> dict[str, Any]:
    """Build the store into ``folder`` (emptied first); the manifest written last."""
    key = plan.key()  # of the code that builds, whatever changes while it runs
    shutil.rmtree(folder, ignore_errors=True)
    home = folder / "home"
    settings = settings_for(home)
    step = Steps()
    started = time.perf_counter()
    done = step("initialise", lambda: initialise(settings))
    catalogue, engine = done.catalogue, done.engine
    options = SynthOptions(
        out=folder / "synth", people=plan.people, organisations=plan.orgs, seed=plan.seed
    )
    city = step("synthesise", lambda: synthesise(options, catalogue=catalogue))
    batches = []
    for written in sorted(city.files, key=lambda w: w.rows):
        dataset = catalogue.dataset(written.dataset)

        def ingest(written: Any = written, dataset: Any = dataset) -> dict[str, Any]:
            batch, _ = register_file(engine, settings, dataset, city.out / written.path)
            outcome = process_batch(engine, settings, catalogue, batch.id)
            if outcome.status != "accepted":
                raise RuntimeError(f"{written.dataset} was refused: {outcome.refusal_message}")
            return {
                "dataset": written.dataset,
                "rows": outcome.rows_read,
                "accepted": outcome.rows_accepted,
                "set_aside": outcome.rows_quarantined,
            }

        batches.append(step(f"ingest {written.dataset}", ingest))
    shutil.rmtree(city.out, ignore_errors=True)  # the files are in the store now

    reserved = step("reserve applicants", lambda: reserve_applicants(engine, plan))
    (folder / APPLICANTS).write_text(json.dumps(reserved), encoding="utf-8")
    licences = derive_licences(engine, settings, catalogue, plan, reserved, step)
    step("sharing requests", lambda: approve_sharing(engine, settings, catalogue))
    step("analyse", lambda: _analyse(engine))
    records = _records_per_dataset(engine)
    engine.dispose()
    manifest = {
        "key": key,
        "commit": _commit(),
        "build_seconds": round(time.perf_counter() - started, 1),
        "steps": step.seconds,
        "batches": batches,
        "records": records,
        "licences": licences,
        "reserved": {kind: len(keys) for kind, keys in reserved.items()},
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


class Steps:
    """Runs the build's steps, saying what it does and keeping each step's seconds."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.last = 0.0

    def __call__(self, name: str, work: Callable[[], Any]) -> Any:
        _say(f"{name} ...")
        begin = time.perf_counter()
        value = work()
        self.last = round(time.perf_counter() - begin, 1)
        self.seconds[name] = self.last
        _say(f"{name}: {self.last:.1f} s")
        return value


def _commit() -> str:
    """The commit the store is built at (and whether the tree had local changes)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{' + local changes' if dirty else ''}" if head else "unknown"


def _say(message: str) -> None:
    print(f"[build] {time.strftime('%H:%M:%S')} {message}", flush=True)


def _analyse(engine: Any) -> None:
    """What a long-running store has: planner statistics (SQLite's ANALYZE)."""
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))


def _records_per_dataset(engine: Any) -> dict[str, int]:
    with Session(engine) as session:
        rows = session.execute(
            select(Record.dataset_code, func.count()).group_by(Record.dataset_code)
        )
        return dict(sorted(rows.all()))


# --- applicants ---------------------------------------------------------------------------


def reserve_applicants(engine: Any, plan: StorePlan) -> dict[str, list[str]]:
    """Persons (from the household register) and organisations (from the business register)
    drawn at random with the plan's seed: the applicants the benchmark asks about. Drawn at
    build time so that sampled licence types can be issued to exactly them."""
    with Session(engine) as session:
        persons = _subjects(session, "household_registration")
        orgs = _subjects(session, "business_registration")
    rng = random.Random(plan.seed)
    return {
        "person": rng.sample(persons, min(plan.reserved, len(persons))),
        "organisation": rng.sample(orgs, min(plan.reserved, len(orgs))),
    }


def _subjects(session: Session, dataset: str) -> list[str]:
    query = select(Record.subject_key).where(Record.dataset_code == dataset)
    return sorted(session.scalars(query.order_by(Record.subject_key)))


def load_applicants(folder: Path) -> dict[str, list[str]]:
    return json.loads((folder / APPLICANTS).read_text(encoding="utf-8"))


# --- licences -----------------------------------------------------------------------------


def derive_licences(
    engine: Any,
    settings: Settings,
    catalogue: Catalogue,
    plan: StorePlan,
    reserved: dict[str, list[str]],
    step: Steps,
) -> list[dict[str, Any]]:
    """Derive types in full, smallest source first, while the derivations so far and the next
    one (at the rate measured so far) fit the budget; issue the others per holder (see the
    module docstring)."""
    sizes = _records_per_dataset(engine)
    types = sorted(derivation.derivable(catalogue), key=lambda t: sizes.get(t.source.dataset, 0))
    done: list[dict[str, Any]] = []
    spent, issued_so_far = 0.0, 0
    for licence_type in types:
        dataset = licence_type.source.dataset
        rate = issued_so_far / spent if issued_so_far >= 1000 else None
        expected = sizes.get(dataset, 0) / rate if rate else 0.0
        entry = {"type": licence_type.code, "name": licence_type.name, "dataset": dataset}
        done.append(entry)
        if spent + expected > plan.licence_budget:
            continue  # issued per holder below
        result = step(
            f"derive {licence_type.code} from {dataset}",
            lambda t=licence_type: derivation.derive(
                engine, catalogue, t.code, passphrase=settings.passphrase, urls=settings.urls
            ),
        )
        spent += step.last
        issued_so_far += result.issued
        entry.update(how="derived in full", issued=result.issued, seconds=step.last)
    sampled = [entry for entry in done if "how" not in entry]
    if sampled:
        missing = max(MIN_LICENCE_ROWS - _licence_rows(engine), 0)
        share = -(-missing // len(sampled))  # others per sampled type, rounded up
        for entry in sampled:
            licence_type = catalogue.licence_type(entry["type"])
            holders = reserved[licence_type.holder_kind.value]
            issued = step(
                f"issue {entry['type']} to the {len(holders):,} reserved + {share:,} others",
                lambda t=licence_type, h=holders: issue_for_holders(
                    engine, settings, catalogue, t.code, h, share, plan.seed
                ),
            )
            entry.update(
                how=(
                    f"per holder: the {issued['reserved']:,} reserved applicants who qualify "
                    f"and {issued['others']:,} others, of {issued['qualifying']:,} who qualify"
                ),
                issued=issued["reserved"] + issued["others"],
                seconds=step.last,
            )
    return done


def _licence_rows(engine: Any) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(LicenceVersion)) or 0


def issue_for_holders(
    engine: Any,
    settings: Settings,
    catalogue: Catalogue,
    type_code: str,
    reserved: Iterable[str],
    others: int,
    seed: int,
) -> dict[str, int]:
    """Licences of ``type_code`` for the reserved holders that qualify and for ``others`` more
    qualifying holders drawn at random: exactly what `derive` would have issued to each of them
    (its mapping, lineage and `LicenceBook.issue`), only not to everyone."""
    licence_type = catalogue.licence_type(type_code)
    source = licence_type.source
    assert source is not None
    with Session(engine) as session:
        version = session.scalar(
            text("SELECT max(version) FROM exchange_dataset_version WHERE dataset_code = :d"),
            {"d": source.dataset},
        )
    upserted, _ended = version_changes(engine, source.dataset, version)
    wanted = set(reserved)
    qualifying = [r for r in upserted if derivation.qualifies(source, r.data)]
    chosen = [r for r in qualifying if r.subject_key in wanted]
    rest = [r for r in qualifying if r.subject_key not in wanted]
    drawn = random.Random(seed).sample(rest, min(others, len(rest)))
    counts = {"reserved": len(chosen), "others": len(drawn), "qualifying": len(qualifying)}
    chosen += drawn
    new = []
    for record in chosen:
        values, name = derivation.licence_fields(licence_type, source, record.data)
        lineage = derivation.lineage_of(source.dataset, version, record)
        new.append(NewLicence(record.subject_key, name, values, lineage))
    with Session(engine) as session, session.begin():
        book = LicenceBook(session, catalogue, passphrase=settings.passphrase, urls=settings.urls)
        for start in range(0, len(new), derivation.ISSUE_CHUNK):
            book.issue(
                type_code,
                issuer=licence_type.issuers[0],
                licences=new[start : start + derivation.ISSUE_CHUNK],
            )
            session.flush()
    return counts


# --- sharing ------------------------------------------------------------------------------


def approve_sharing(engine: Any, settings: Settings, catalogue: Catalogue) -> int:
    """The platform asks each dataset's department for every field a request can open; each
    department approves. Returns the requests approved."""
    now = utcnow()
    approved = 0
    with audit_log(settings, engine) as log, Session(engine) as session, session.begin():
        for dataset in catalogue.datasets:
            fields = [f.name for f in dataset.fields if requestable(dataset, f)]
            if not fields:
                continue
            asking = SharingBook(session, catalogue, log, actor="bench-platform", role="platform")
            request = asking.request(
                requester=PLATFORM,
                dataset=dataset.code,
                fields=fields,
                purpose="一件事预检：基准测试",
                expires_at=latest_expiry(now) - timedelta(days=1),
                now=now,
            )
            deciding = SharingBook(
                session, catalogue, log, actor=f"bench-{dataset.department}", role="department"
            )
            deciding.approve(request.id, by_department=dataset.department, reason="bench", now=now)
            approved += 1
    return approved
