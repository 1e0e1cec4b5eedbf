"""A small synthetic city, built once per test session, for the lookup, precheck and API tests.

The city is what `onceonly demo` builds, at test size: `onceonly synth`'s people and
organisations (`exchange.synth`), every department's file ingested as a batch
(`exchange.ingest.batches.register_file` + `process_batch`, the work each dataset's Dagster
asset does) and every derived licence type issued from its dataset (`licences.derivation.derive`,
the work of the licence assets). Dagster itself is left out: it adds seconds per run and
nothing these tests look at. On SQLite in a temporary home it takes about 3 seconds.

Use it from a test module::

    from city_helpers import City, city_fixture, city_session_fixture  # noqa: F401

(the ``*_fixture`` imports register the fixtures ``city`` and ``city_session`` in the module)

    def test_something(city: City, city_session: Session) -> None:
        person = city.married_person()
        ...

* ``city`` (session-scoped) is the built `City`: its own `Settings` (home, secret, public URL;
  not the process's `get_settings()`, so pass ``city.settings`` / ``city.engine`` explicitly),
  its engine, the catalogue, the synth's files and each batch's outcome. Treat it as read-only.
* ``city_session`` (per test) is a `Session` on the city whose work is rolled back when the test
  ends: revoke or suspend licences (`City.book`), record submissions, tamper with a document,
  and the next test sees the city as built.
* `City` finds applicants in given situations from what the store holds (`subjects`, and
  shortcuts such as `married_person`, `unmarried_person`, `company_with_licence`), always in
  the same order, so a test's applicant is the same on every run.
* `build_city` builds one on any store (the PostgreSQL tests use it with a few datasets).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from catalog.schema import Catalogue, SubjectKind
from exchange.bootstrap import initialise
from exchange.ingest.batches import BatchOutcome, process_batch, register_file
from exchange.ingest.models import Record
from exchange.settings import Settings
from exchange.synth import SynthOptions, SynthResult, synthesise
from licences.derivation import derivable, derive
from licences.issuance import LicenceBook
from licences.models import LicenceVersion
from licences.urls import PublicUrls

CITY_PEOPLE = 400
CITY_ORGANISATIONS = 100
CITY_SEED = 2026
CITY_SECRET = "city-test-secret"  # the city's keys are encrypted with it; audit hashes keyed by it

BUSINESS_LICENCE = "11100000MB0143028R001"
FOOD_BUSINESS_LICENCE = "11100000MB0143028R002"
MARRIAGE_CERTIFICATE = "11100000000013303A001"
HOUSEHOLD_BOOKLET = "11100000000013338W001"
SOCIAL_SECURITY_CARD = "111000007178317096001"


@dataclass(frozen=True)
class City:
    settings: Settings
    engine: Engine
    catalogue: Catalogue
    synth: SynthResult
    batches: dict[str, BatchOutcome]

    @property
    def urls(self) -> PublicUrls:
        return self.settings.urls

    @property
    def passphrase(self) -> bytes:
        return self.settings.passphrase

    def book(self, session: Session, *, actor: str = "city-tests") -> LicenceBook:
        """The licence book on ``session`` (revoke, suspend, amend within a test)."""
        return LicenceBook(
            session, self.catalogue, passphrase=self.passphrase, urls=self.urls, actor=actor
        )

    # -- what the store holds -------------------------------------------------------------

    def records(
        self, dataset: str, where: Mapping[str, Collection[str]] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Current records of ``dataset`` by subject, those whose fields have the given values."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(Record.subject_key, Record.data).where(Record.dataset_code == dataset)
            ).all()
        return {
            key: data
            for key, data in rows
            if all(data.get(name) in values for name, values in (where or {}).items())
        }

    def licences(self, type_code: str, *, status: str | None = "active") -> dict[str, str]:
        """Holders of a licence type (newest version in ``status``) -> that version's id."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(LicenceVersion.holder_key, LicenceVersion.id, LicenceVersion.status)
                .where(LicenceVersion.type_code == type_code)
                .order_by(LicenceVersion.series, LicenceVersion.version)
            ).all()
        newest = {holder: (licence_id, state) for holder, licence_id, state in rows}
        return {h: i for h, (i, state) in newest.items() if status is None or state == status}

    def subjects(
        self,
        kind: SubjectKind,
        *,
        having: Mapping[str, Mapping[str, Collection[str]] | None] | None = None,
        lacking: Collection[str] = (),
        holding: Collection[str] = (),
        not_holding: Collection[str] = (),
    ) -> list[str]:
        """Subjects of ``kind``, sorted, with a record in each dataset of ``having`` (matching
        its field values, if given), none in ``lacking``, an active licence of each type in
        ``holding`` and no licence at all of each type in ``not_holding``."""
        key_dataset = (
            "household_registration" if kind is SubjectKind.PERSON else ("business_registration")
        )
        found = set(self.records(key_dataset))
        for dataset, where in (having or {}).items():
            found &= set(self.records(dataset, where))
        for dataset in lacking:
            found -= set(self.records(dataset))
        for type_code in holding:
            found &= set(self.licences(type_code))
        for type_code in not_holding:
            found -= set(self.licences(type_code, status=None))
        return sorted(found)

    def subject(self, kind: SubjectKind, **criteria: Any) -> str:
        """The first of `subjects`; LookupError if the city has none."""
        found = self.subjects(kind, **criteria)
        if not found:
            raise LookupError(f"the city has no {kind.value} with {criteria}")
        return found[0]

    # -- shortcuts for the situations tests keep needing -----------------------------------

    def married_person(self) -> str:
        """Married (婚姻登记: 结婚) and holding an active electronic marriage certificate."""
        return self.subject(
            SubjectKind.PERSON,
            having={"marriage_registration": {"marital_status": ["结婚"]}},
            holding=[MARRIAGE_CERTIFICATE],
        )

    def divorced_person(self) -> str:
        """Divorced (离婚) in the marriage register, holding no marriage certificate."""
        return self.subject(
            SubjectKind.PERSON,
            having={"marriage_registration": {"marital_status": ["离婚"]}},
            not_holding=[MARRIAGE_CERTIFICATE],
        )

    def unmarried_person(self) -> str:
        """A registered resident with no record in the marriage register at all."""
        return self.subject(
            SubjectKind.PERSON,
            lacking=["marriage_registration"],
            not_holding=[MARRIAGE_CERTIFICATE],
        )

    def company_with_licence(self, type_code: str = BUSINESS_LICENCE) -> str:
        """An organisation holding an active licence of ``type_code`` (a business licence)."""
        return self.subject(SubjectKind.ORGANISATION, holding=[type_code])

    def company_without(self, dataset: str) -> str:
        """A registered organisation with no record in ``dataset``."""
        return self.subject(SubjectKind.ORGANISATION, lacking=[dataset])


def build_city(
    settings: Settings,
    *,
    engine: Engine | None = None,
    people: int = CITY_PEOPLE,
    organisations: int = CITY_ORGANISATIONS,
    seed: int = CITY_SEED,
    datasets: Collection[str] | None = None,
) -> City:
    """Initialise the store, write the synthetic city, ingest ``datasets`` (None: all) and
    derive the licences that follow them."""
    done = initialise(settings, engine=engine)
    synth = synthesise(
        SynthOptions(
            out=settings.home / "synth", people=people, organisations=organisations, seed=seed
        ),
        catalogue=done.catalogue,
    )
    batches = {}
    for written in synth.files:
        if datasets is not None and written.dataset not in datasets:
            continue
        dataset = done.catalogue.dataset(written.dataset)
        batch, _ = register_file(done.engine, settings, dataset, synth.out / written.path)
        batches[dataset.code] = process_batch(done.engine, settings, done.catalogue, batch.id)
    for licence_type in derivable(done.catalogue):
        assert licence_type.source is not None
        if licence_type.source.dataset in batches:
            derive(
                done.engine,
                done.catalogue,
                licence_type.code,
                passphrase=settings.passphrase,
                urls=settings.urls,
            )
    return City(settings, done.engine, done.catalogue, synth, batches)


def city_settings(home: Path, *, database_url: str | None = None) -> Settings:
    """Settings of their own (no environment, no .env), so the city never follows a test's."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        home=home,
        database_url=database_url,
        secret=CITY_SECRET,  # type: ignore[arg-type]
        environment="test",
        public_url="https://exchange.city.test",
    )


@pytest.fixture(scope="session", name="city")
def city_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    """The synthetic city, built once per test session (per xdist worker) on SQLite."""
    built = build_city(city_settings(tmp_path_factory.mktemp("city") / "home"))
    assert all(outcome.status == "accepted" for outcome in built.batches.values())
    yield built
    built.engine.dispose()


@pytest.fixture(name="city_session")
def city_session_fixture(city: City) -> Iterator[Session]:
    """A session on the city whose changes are rolled back after the test."""
    with Session(city.engine) as session:
        try:
            yield session
        finally:
            session.rollback()
