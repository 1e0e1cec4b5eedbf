"""Licence issuance, verification and derivation against the bare cryptography they are built on.

On a fresh SQLite store in a temporary ONCEONLY_HOME, it measures, with ``--count`` licences
(default 20,000) of the business licence (营业执照), each for a company of its own:

* **issuance**: `LicenceBook.issue` of all of them in one call and one transaction, commit
  included (identifier and serial, status-list slots, the credential, its ``eddsa-jcs-2022``
  proof, the stored row), in a process of its own (:func:`bench._timing.isolated`); the issuing
  department's key is decrypted before the clock starts, as in a running worker. Floor, in the
  same run: ``rfc8785.dumps`` + SHA-256 + Ed25519 sign of the very documents issued (read back,
  without their proof), nothing else. Reported: ours / floor.
* **verification**: `verify_document` of every issued document as text (parse, key lookup,
  proof, "did we issue this", status lists, validity), in one session. Raw, in the same run:
  ``json.loads`` + ``rfc8785.dumps`` + SHA-256 + Ed25519 verify of the same texts, the least a
  verifier handed a text must do. Reported: ours / raw. Every outcome must be ``valid``: a
  verification that answers otherwise would be fast for the wrong reason.
* **derivation**: `derive` of the business licence after a synthetic business register of
  ``--count`` companies (`exchange.synth`) is published (`register_file`, `process_batch`; not
  timed), in a process of its own. Reported: derived / direct issuance, licences per second.
* **growth**: issuance of 10^3, 10^4 and 10^5 licences (up to ``--max``), each into a fresh
  store, and the time per licence against the smallest run's: it stays near 1 if issuance
  grows linearly.

Rates drift with other work on the machine (LIMITS.md), so only the ratios, measured in the
same run, are to be compared; the load average is printed with them.

    .venv/bin/python -m bench.licences [--count 20000] [--max 100000] [--repeat 3] [--json]

``--json`` prints the figures as one JSON object on stdout (the tables then go to stderr).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from bench._timing import best_of, finish, isolated
from catalog.loader import load_catalogue
from exchange.bootstrap import initialise
from exchange.identifiers import uscc
from exchange.ingest.batches import process_batch, register_file
from exchange.settings import Settings
from exchange.store.engine import make_engine
from exchange.synth import SynthOptions, synthesise
from exchange.synth.writers import headers
from licences.derivation import derive
from licences.issuance import LicenceBook, Lineage, NewLicence
from licences.models import LicenceVersion
from licences.verification import Outcome, verify_document

BUSINESS_LICENCE = "11100000MB0143028R001"
ISSUER = "market_regulation"
REGISTER = "business_registration"
GROWTH_SIZES = (1_000, 10_000, 100_000)
WIDTH = 140


# --- the licences ----------------------------------------------------------------------------


def company(number: int) -> str:
    """A valid USCC for company ``number``: a Hangzhou enterprise, GB 11714 organisation code
    ``number`` with its check character, then the USCC check character."""
    body = f"{number:08d}"
    prefix = "91330106" + body + uscc.calc_organisation_check_digit(body)
    return prefix + uscc.calc_check_digit(prefix)


def requests(count: int) -> list[NewLicence]:
    """``count`` complete business licence requests, one company each."""
    lineage = Lineage(requested_by="bench", request_reason="benchmark")
    items = []
    for number in range(1, count + 1):
        name = f"杭州基准{number}有限公司"
        fields = {
            "uscc": company(number),
            "name": name,
            "entity_type": "有限责任公司",
            "legal_representative": "张三",
            "registered_capital": "100.00",
            "established_date": "2020-05-01",
            "address": f"杭州市西湖区文三路{number}号",
            "business_scope": "软件开发；信息技术咨询服务",
            "registration_authority": "杭州市西湖区市场监督管理局",
        }
        items.append(NewLicence(company(number), name, fields, lineage))
    return items


def _settings(home: Path) -> Settings:
    return Settings(home=home, database_url=None)


def fresh_store(home: Path) -> Path:
    """A migrated store with the catalogue and keys in ``home``."""
    initialise(_settings(home)).engine.dispose()
    return home


# --- the measurements (each runs in a spawned process: module-level, picklable) ----------------


def issue_all(home: Path, count: int) -> dict[str, Any]:
    """Issue ``count`` business licences in one transaction; the time of the issue and commit."""
    settings = _settings(home)
    engine = make_engine(settings=settings)
    catalogue = load_catalogue(settings.catalog_dir)
    items = requests(count)
    with Session(engine) as session:
        book = LicenceBook(session, catalogue, passphrase=settings.passphrase, urls=settings.urls)
        book.signer(ISSUER)  # the key decrypted once, as in a running worker
        start = time.perf_counter()
        rows = book.issue(BUSINESS_LICENCE, issuer=ISSUER, licences=items)
        session.commit()  # the transaction the key was read in: one for all
        seconds = time.perf_counter() - start
    engine.dispose()
    return {"seconds": seconds, "issued": len(rows)}


def derive_all(home: Path) -> dict[str, Any]:
    """`derive` of the business licence over the published register in ``home``."""
    settings = _settings(home)
    engine = make_engine(settings=settings)
    catalogue = load_catalogue(settings.catalog_dir)
    start = time.perf_counter()
    done = derive(
        engine, catalogue, BUSINESS_LICENCE, passphrase=settings.passphrase, urls=settings.urls
    )
    seconds = time.perf_counter() - start
    engine.dispose()
    return {"seconds": seconds, "issued": done.issued, "versions": done.versions}


# --- in this process -----------------------------------------------------------------------


def documents(home: Path) -> list[str]:
    """The issued documents as stored (the text a holder is handed), in issue order."""
    engine = make_engine(settings=_settings(home))
    with Session(engine) as session:
        texts = list(session.scalars(select(LicenceVersion.document).order_by(LicenceVersion.id)))
    engine.dispose()
    return texts


def _unsecured(text: str) -> dict[str, Any]:
    document = json.loads(text)
    del document["proof"]
    return document


def sign_floor(unsigned: list[dict[str, Any]], key: Ed25519PrivateKey) -> list[bytes]:
    """The floor of issuance: JCS, SHA-256, Ed25519 sign; nothing else."""
    return [key.sign(hashlib.sha256(rfc8785.dumps(doc)).digest()) for doc in unsigned]


def verify_raw(texts: list[str], signatures: list[bytes], key: Ed25519PrivateKey) -> int:
    """The floor of verification of a presented text: parse, JCS, SHA-256, Ed25519 verify."""
    public = key.public_key()
    for text, signature in zip(texts, signatures, strict=True):
        public.verify(signature, hashlib.sha256(rfc8785.dumps(_unsecured(text))).digest())
    return len(texts)


def verify_ours(home: Path, texts: list[str]) -> dict[str, int]:
    """`verify_document` of every text in one session; how many got each outcome."""
    settings = _settings(home)
    engine = make_engine(settings=settings)
    outcomes: dict[str, int] = {}
    with Session(engine) as session:
        for text in texts:
            outcome = verify_document(session, text, urls=settings.urls).outcome
            outcomes[outcome.value] = outcomes.get(outcome.value, 0) + 1
    engine.dispose()
    return outcomes


def publish_register(home: Path, count: int, work: Path, seed: int) -> int:
    """A synthetic city of ``count`` organisations; its business register published into the
    store in ``home``. Returns the companies that qualify for a licence (status 存续)."""
    city = work / "city"
    synthesise(SynthOptions(out=city, people=1_000, organisations=count, error_rate=0.0, seed=seed))
    settings = _settings(home)
    done = initialise(settings)
    path = city / "market_regulation" / REGISTER / f"{REGISTER}.csv"
    dataset = done.catalogue.dataset(REGISTER)
    batch, _created = register_file(done.engine, settings, dataset, path)
    outcome = process_batch(done.engine, settings, done.catalogue, batch.id)
    done.engine.dispose()
    if outcome.status != "accepted":
        raise RuntimeError(f"the synthetic register was refused: {outcome.refusal_message}")
    source = done.catalogue.licence_type(BUSINESS_LICENCE).source
    assert source is not None
    titles = dict(zip((f.name for f in dataset.fields), headers(dataset), strict=True))
    with path.open(encoding="utf-8", newline="") as handle:
        return sum(
            all(row[titles[name]] in values for name, values in source.where.items())
            for row in csv.DictReader(handle)
        )


def _rate(count: int, seconds: float) -> int:
    return round(count / seconds)


# --- the benchmark -------------------------------------------------------------------------


def benchmark(args: argparse.Namespace, work: Path, progress: Console) -> dict[str, Any]:
    load_before = os.getloadavg()
    problems: list[str] = []

    progress.print(f"issuing {args.count:,} business licences in one transaction ...")
    home = fresh_store(work / "issue")
    issued = isolated(issue_all, home, args.count)
    texts = documents(home)
    if len(texts) != args.count or issued.value["issued"] != args.count:
        problems.append(f"issued {issued.value['issued']:,} of {args.count:,}")
    issue_rate = _rate(args.count, issued.value["seconds"])

    progress.print("floor: rfc8785 + SHA-256 + Ed25519 sign of the same documents ...")
    unsigned = [_unsecured(text) for text in texts]
    key = Ed25519PrivateKey.generate()
    signatures = sign_floor(unsigned, key)
    sign_seconds = best_of(lambda: sign_floor(unsigned, key), args.repeat)

    progress.print(f"verifying the {len(texts):,} documents ...")
    outcomes: dict[str, int] = {}

    def ours() -> None:
        outcomes.clear()
        outcomes.update(verify_ours(home, texts))

    verify_seconds = best_of(ours, args.repeat)
    if outcomes != {Outcome.VALID.value: len(texts)}:
        problems.append(f"verification outcomes {outcomes}, expected all valid")
    raw_seconds = best_of(lambda: verify_raw(texts, signatures, key), args.repeat)

    progress.print(f"deriving from a synthetic register of {args.count:,} companies ...")
    derive_home = fresh_store(work / "derive")
    qualifying = publish_register(derive_home, args.count, work, args.seed)
    derived = isolated(derive_all, derive_home)
    if derived.value["issued"] != qualifying:
        problems.append(f"derived {derived.value['issued']:,}, {qualifying:,} companies qualify")

    growth = []
    for size in (size for size in GROWTH_SIZES if size <= args.max):
        progress.print(f"growth: issuing {size:,} ...")
        measured = isolated(issue_all, fresh_store(work / f"growth-{size}"), size)
        seconds = measured.value["seconds"]
        growth.append(
            {
                "licences": size,
                "seconds": round(seconds, 2),
                "licences_per_second": _rate(size, seconds),
                "microseconds_per_licence": round(seconds / size * 1e6, 1),
                "peak_mib": round(measured.peak_mib),
            }
        )
    for row in growth:
        row["per_licence_vs_smallest"] = round(
            row["microseconds_per_licence"] / growth[0]["microseconds_per_licence"], 2
        )

    count = len(texts)
    rates = {
        "issue": issue_rate,
        "sign_floor": _rate(count, sign_seconds),
        "verify": _rate(count, verify_seconds),
        "verify_raw": _rate(count, raw_seconds),
        "derive": _rate(derived.value["issued"], derived.value["seconds"]),
    }
    return {
        "count": args.count,
        "load_average_1m": {"before": load_before[0], "after": os.getloadavg()[0]},
        "cores": os.cpu_count(),
        "rates": rates,
        "issue_peak_mib": round(issued.peak_mib),
        "derived": derived.value["issued"],
        "derive_seconds": round(derived.value["seconds"], 2),
        "ratios": {
            "issue_over_sign_floor": round(rates["issue"] / rates["sign_floor"], 2),
            "verify_over_raw": round(rates["verify"] / rates["verify_raw"], 2),
            "derive_over_issue": round(rates["derive"] / rates["issue"], 2),
            "growth_largest_over_smallest": growth[-1]["per_licence_vs_smallest"]
            if growth
            else None,
        },
        "growth": growth,
        "outcome_problems": problems,
    }


# --- the report ----------------------------------------------------------------------------


def _tables(report: dict[str, Any]) -> list[Table]:
    rates, ratios = report["rates"], report["ratios"]
    main = Table(
        title=f"Licences: {report['count']:,} business licences (rates; ratios of rates)",
        title_justify="left",
    )
    for name in ("measure", "ours (/s)", "baseline", "baseline (/s)", "ours / baseline"):
        main.add_column(name, justify="left" if name in ("measure", "baseline") else "right")
    main.add_row(
        "issue, one transaction",
        f"{rates['issue']:,}",
        "rfc8785 + SHA-256 + Ed25519 sign",
        f"{rates['sign_floor']:,}",
        f"{ratios['issue_over_sign_floor']}x",
    )
    main.add_row(
        "verify_document",
        f"{rates['verify']:,}",
        "parse + rfc8785 + SHA-256 + Ed25519 verify",
        f"{rates['verify_raw']:,}",
        f"{ratios['verify_over_raw']}x",
    )
    main.add_row(
        f"derive ({report['derived']:,} from the register)",
        f"{rates['derive']:,}",
        "direct issue (above)",
        f"{rates['issue']:,}",
        f"{ratios['derive_over_issue']}x",
    )
    growth = Table(title="Growth of issuance (one transaction each)", title_justify="left")
    for name in ("licences", "seconds", "licences/s", "µs per licence", "vs smallest", "peak MiB"):
        growth.add_column(name, justify="right")
    for row in report["growth"]:
        growth.add_row(
            f"{row['licences']:,}",
            f"{row['seconds']:.2f}",
            f"{row['licences_per_second']:,}",
            f"{row['microseconds_per_licence']:,}",
            f"{row['per_licence_vs_smallest']}x",
            f"{row['peak_mib']:,}",
        )
    return [main, growth]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.licences", description=__doc__)
    parser.add_argument("--count", type=int, default=20_000, help="licences to issue and verify")
    parser.add_argument("--max", type=int, default=100_000, help="largest size for growth")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each in-process measure")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--work-dir", type=Path, default=None, help="where to write (a temp dir)")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    if args.count < 100:
        parser.error("--count must be at least 100")
    progress = Console(stderr=True)
    work = Path(tempfile.mkdtemp(prefix="bench-licences-", dir=args.work_dir))
    try:
        report = benchmark(args, work, progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    console = Console(stderr=args.json, width=WIDTH)
    for table in _tables(report):
        console.print(table)
    load = report["load_average_1m"]
    console.print(
        f"load average (1 min) before {load['before']:.2f}, after {load['after']:.2f} on "
        f"{report['cores']} cores; peak memory of the {report['count']:,} issue "
        f"{report['issue_peak_mib']:,} MiB"
    )
    return finish(
        report,
        console=console,
        as_json=args.json,
        mismatch="outcome differs from what was expected",
    )


if __name__ == "__main__":
    sys.exit(main())
