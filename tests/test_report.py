"""The operator's report: its numbers against independent counts, and its plots in a browser.

A synthetic city of its own (module-scoped: it gains prechecks, submissions, a red card and a
lookup, so the session's read-only ``city`` will not do), then `write_report`. Each section's
numbers are recomputed here from the tables or from the audit entries by another route than
`exchange.report.data` takes, and the page is opened in headless Chromium: every section has a
plot, drawn, with size, and the screenshot shows them.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pyarrow.csv as pa_csv
import pytest
import typer
from browser import capture, chromium, png_pixels, png_size
from city_helpers import CITY_SECRET, City, build_city, city_settings
from rich.progress import Progress
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from catalog.schema import SubjectKind
from exchange.access.models import Submission
from exchange.access.roles import Principal, Role
from exchange.access.sharing import grants
from exchange.api.auditing import traced
from exchange.audit.events import AuditEvent, AuditKind
from exchange.audit.models import AuditEntry, AuditHead
from exchange.audit.wiring import audit_log
from exchange.bootstrap import initialise
from exchange.cli.demo_precheck import PLATFORM, BundleShare, grant_platform, precheck_bundles
from exchange.cli.report import report
from exchange.errors import InvalidRequest
from exchange.ingest.models import Batch
from exchange.lookup.submissions import report_submission
from exchange.report import ReportSummary, write_report
from exchange.report.data import read_report_data
from exchange.settings import get_settings
from exchange.store.base import utcnow
from licences.models import LicenceVersion

SAMPLE = 12  # applicants per bundle
DESK = Principal(client="desk-7", role=Role.PLATFORM, organisation=PLATFORM)
HOSTILE_PURPOSE = "<script>alert('report')</script> 核验身份"
SECTIONS = ("quality", "freshness", "bundles", "licences", "lookups", "supervision")


@dataclass(frozen=True)
class Reported:
    city: City
    shares: list[BundleShare]
    flagged_materials: int
    summary: ReportSummary
    html: str


def _submit(city: City, applicant: str, item: str, materials: list[str], purpose: str) -> None:
    """A submission report as the API records it: `traced` around `report_submission`."""
    with audit_log(city.settings, city.engine) as log, Session(city.engine) as session:

        def run() -> list[object]:
            with session.begin():
                return list(
                    report_submission(
                        session,
                        city.catalogue,
                        applicant=applicant,
                        service_item=item,
                        materials=materials,
                        client=DESK.client,
                        organisation=DESK.organisation,
                        grants=grants(session, PLATFORM, now=utcnow()),
                        subject_secret=city.passphrase,
                        urls=city.urls,
                    )
                )

        traced(
            log,
            DESK,
            kind=AuditKind.SUBMISSION,
            subject=applicant,
            purpose=purpose,
            service_item=item,
            run=run,
            summary=lambda answers: {"materials": len(answers)},
        )


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reported]:
    home = tmp_path_factory.mktemp("report") / "home"
    city = build_city(city_settings(home))
    grant_platform(city.settings, city.engine, city.catalogue)
    with Progress(disable=True) as progress:
        shares = precheck_bundles(
            city.settings, city.engine, city.catalogue, progress, sample=SAMPLE
        )
    married = city.married_person()
    company = city.company_with_licence()
    # a married applicant hands over her marriage certificate anyway: flagged (natural resources)
    _submit(city, married, "330100-QR-0103", ["id_card", "marriage_certificate"], "购房登记受理")
    # a company hands over its business licence anyway: flagged (public security, seal)
    _submit(city, company, "330100-QT-0201", ["business_licence", "seal_specimen"], "刻章备案受理")
    # a marriage certificate asked for a social security card: not in the catalogue, red card
    with pytest.raises(InvalidRequest) as refused:
        _submit(city, married, "330100-QT-0103", ["marriage_certificate"], "社保卡申领受理")
    assert refused.value.code == "material_not_in_catalogue"
    with audit_log(city.settings, city.engine) as log:
        log.record(
            AuditEvent(
                kind=AuditKind.LOOKUP,
                actor=DESK.actor,
                role=DESK.role.value,
                purpose=HOSTILE_PURPOSE,
                service_item="330100-QT-0103",
                subject=married,
                details={"dataset": "household_registration"},
            )
        )
    with Session(city.engine) as session:
        flagged = session.scalar(select(func.count()).where(Submission.flagged)) or 0
    path = home / "report.html"
    summary = write_report(city.settings, city.engine, path)
    yield Reported(city, shares, flagged, summary, path.read_text(encoding="utf-8"))
    city.engine.dispose()


# -- the numbers ------------------------------------------------------------------------------


def test_licences_by_type_and_status_equal_the_licence_table(reported: Reported) -> None:
    now = reported.summary.data.header.generated_at
    with Session(reported.city.engine) as session:
        rows = session.execute(
            select(LicenceVersion.type_code, LicenceVersion.status, LicenceVersion.valid_until)
        ).all()
    expected: dict[str, Counter[str]] = defaultdict(Counter)
    for type_code, status, valid_until in rows:
        ended = valid_until is not None and valid_until.replace(tzinfo=now.tzinfo) <= now
        expected[type_code]["expired" if status == "active" and ended else status] += 1
    shown = {c.licence_type.code: dict(c.by_status) for c in reported.summary.data.licences}
    assert shown == {code: dict(counts) for code, counts in expected.items()}
    assert sum(sum(c.values()) for c in shown.values()) == len(rows) > 0
    names = {c.licence_type.code: c.licence_type.name for c in reported.summary.data.licences}
    assert names["11100000MB0143028R001"] == "营业执照"


def test_materials_saved_per_bundle_recomputed_from_the_precheck_entries(
    reported: Reported,
) -> None:
    with reported.city.engine.connect() as connection:
        leaves = connection.scalars(
            select(AuditEntry.leaf).where(AuditEntry.kind == "precheck")
        ).all()
    saved: Counter[str] = Counter()
    asked: Counter[str] = Counter()
    for leaf in leaves:
        materials = json.loads(leaf)["details"]["materials"]
        bundle = json.loads(leaf)["details"]["plan"]
        saved[bundle] += sum(outcome != "must_submit" for outcome in materials.values())
        asked[bundle] += len(materials)
    bundles = {b.plan.code: b for b in reported.summary.data.bundles}
    assert set(bundles) == {share.bundle for share in reported.shares}
    for share in reported.shares:  # what the demo counted while it ran the prechecks
        shown = bundles[share.bundle]
        assert shown.prechecks == share.applicants == SAMPLE
        assert shown.no_longer_handed_over == share.saved == saved[share.bundle]
        assert shown.materials == share.applicants * share.materials == asked[share.bundle]
        assert shown.share == pytest.approx(share.share)
        assert dict(shown.outcomes) == {o: share.outcomes.get(o, 0) for o in shown.outcomes}
    assert f"{bundles['home_purchase'].share:.2%}" in reported.html


def test_flags_and_red_cards_per_department(reported: Reported) -> None:
    supervision = {s.department.code: s for s in reported.summary.data.supervision}
    assert reported.flagged_materials == 2
    assert supervision["natural_resources"].reports == 2
    assert supervision["natural_resources"].flagged == 1
    assert supervision["psb"].reports == 2
    assert supervision["psb"].flagged == 1
    assert supervision["hrss"].red_cards == 1
    assert supervision["hrss"].reports == 0  # the refused report stored nothing
    assert sum(s.red_cards for s in supervision.values()) == 1


def test_lookups_by_client_and_purpose(reported: Reported) -> None:
    desk = {
        row.purpose: dict(row.by_kind)
        for row in reported.summary.data.lookups
        if row.actor == DESK.actor
    }
    assert desk == {
        "购房登记受理": {"submission": 1},
        "刻章备案受理": {"submission": 1},
        "社保卡申领受理": {"refusal": 1},
        HOSTILE_PURPOSE: {"lookup": 1},
    }
    demo = [row for row in reported.summary.data.lookups if row.actor != DESK.actor]
    assert sum(row.by_kind["precheck"] for row in demo) == SAMPLE * len(reported.shares)
    # a client's text reaches the page escaped, in the table and in the plot's legend
    assert "<script>" not in reported.html
    assert reported.html.count("&lt;script&gt;") >= 2


def test_quality_reasons_equal_the_quarantine_files(reported: Reported) -> None:
    with Session(reported.city.engine) as session:
        batches = session.scalars(select(Batch).where(Batch.status == "accepted")).all()
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    read: Counter[str] = Counter()
    for batch in batches:
        read[batch.department_code] += batch.rows_read or 0
        assert batch.quarantine_path is not None
        table = pa_csv.read_csv(batch.quarantine_path)
        reasons[batch.department_code].update(table.column("reason").to_pylist())
    quality = {q.department.code: q for q in reported.summary.data.quality}
    assert {code: q.rows_read for code, q in quality.items()} == dict(read)
    assert {code: dict(q.reasons) for code, q in quality.items()} == {
        code: dict(reasons[code]) for code in read
    }
    assert any(q.rows_quarantined for q in quality.values())  # the synth plants bad rows


def test_freshness_follows_the_declared_frequency(reported: Reported) -> None:
    city = reported.city
    now = reported.summary.data.header.generated_at
    assert all(row.freshness.fresh for row in reported.summary.data.freshness)
    later = read_report_data(city.engine, city.catalogue, now=now + timedelta(days=8))
    overdue = {row.dataset.code for row in later.freshness if not row.freshness.fresh}
    expected = {d.code for d in city.catalogue.datasets if d.update_frequency.days < 8}
    assert overdue == expected and expected  # daily and weekly datasets, not monthly ones
    assert len(later.freshness) == len(city.catalogue.datasets)


def test_the_header_names_the_store_the_catalogue_and_an_intact_audit_log(
    reported: Reported,
) -> None:
    header = reported.summary.data.header
    with reported.city.engine.connect() as connection:
        entries = connection.scalar(select(func.count()).select_from(AuditEntry))
        assert header.audit_entries == entries == connection.scalar(select(AuditHead.size))
    assert header.audit_checked and header.audit_intact is True
    assert reported.summary.audit_intact is True
    assert header.catalogue_revision == 1
    assert "完整 intact" in reported.html
    assert f"{header.audit_entries:,} entries" in reported.html
    assert reported.summary.plots == len(SECTIONS)
    assert reported.summary.plots_with_data == len(SECTIONS)


def test_an_empty_store_says_so_in_each_plot(tmp_path: Path) -> None:
    settings = city_settings(tmp_path / "home")
    done = initialise(settings)
    try:
        summary = write_report(settings, done.engine, tmp_path / "out" / "r.html")
    finally:
        done.engine.dispose()
    html = (tmp_path / "out" / "r.html").read_text(encoding="utf-8")
    drawn = {section: html.count(f'id="{section}-data-') for section in SECTIONS}
    # the catalogue's datasets are there, never delivered; everything else is empty
    assert drawn["freshness"] > 0
    assert [s for s, n in drawn.items() if n == 0] == [s for s in SECTIONS if s != "freshness"]
    for message in (
        "No accepted batch yet",
        "No precheck recorded yet",
        "No licence issued yet",
        "No lookup recorded yet",
        "No submission report or red card yet",
    ):
        assert message in html
    assert summary.plots_with_data == 1
    assert "从未交付" in html


def test_the_command_writes_the_report_without_verifying_when_asked(
    reported: Reported, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONCEONLY_HOME", str(reported.city.settings.home))
    monkeypatch.setenv("ONCEONLY_SECRET", CITY_SECRET)
    monkeypatch.setenv("ONCEONLY_ENVIRONMENT", "test")
    monkeypatch.delenv("ONCEONLY_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    app = typer.Typer()
    app.command()(report)
    out = tmp_path / "ops" / "report.html"
    try:
        result = CliRunner().invoke(app, ["--out", str(out), "--no-verify"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert str(out.resolve()) in result.output.replace("\n", "")
    assert "6 plots, 6 with data" in result.output
    page = out.read_text(encoding="utf-8")
    assert "未校验 not checked" in page and "完整 intact" not in page


# -- in a browser -----------------------------------------------------------------------------

#: Appended to a copy of the page for the test only (the report itself has no script): measures
#: every plot and its data elements as laid out, and writes the result into the DOM.
MEASURE = """
<script>
const plots = [...document.querySelectorAll("svg.plot")].map((svg) => {
  const box = svg.getBoundingClientRect();
  const name = svg.dataset.plot;
  const data = [...svg.querySelectorAll(`[id^="${name}-data-"]`)].map((el) => {
    const r = el.getBoundingClientRect();
    return {w: r.width, h: r.height, shapes: el.querySelectorAll("path, rect, use").length};
  });
  return {name, section: svg.closest("section").dataset.section, w: box.width, h: box.height,
          texts: svg.querySelectorAll("text").length, data};
});
const out = document.createElement("pre");
out.id = "measured";
out.textContent = JSON.stringify({sections: document.querySelectorAll("section").length, plots,
                                  height: document.documentElement.scrollHeight});
document.body.appendChild(out);
</script>
"""
WINDOW = (1000, 7200)  # tall enough for the whole page: the screenshot shows every plot


def test_every_plot_renders_in_a_browser(reported: Reported, tmp_path: Path) -> None:
    chromium()  # skips, saying how to install it, when there is none
    page = tmp_path / "measured.html"
    page.write_text(reported.html.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    shot = capture(page.as_uri(), tmp_path, name="report", size=WINDOW)

    start = shot.dom.index('<pre id="measured">') + len('<pre id="measured">')
    measured = json.loads(shot.dom[start : shot.dom.index("</pre>", start)].replace("&amp;", "&"))
    plots = measured["plots"]
    assert measured["height"] <= WINDOW[1]
    assert measured["sections"] == len(plots) == len(SECTIONS)
    assert [p["name"] for p in plots] == [p["section"] for p in plots] == list(SECTIONS)
    for plot in plots:
        assert plot["w"] > 300 and plot["h"] > 100, plot["name"]
        assert plot["texts"] > 3, plot["name"]  # labels stay text (svg.fonttype none)
        drawn = [d for d in plot["data"] if d["w"] > 0 and d["h"] > 0 and d["shapes"]]
        assert drawn, f"{plot['name']}: no data element with a size"

    assert png_size(shot.screenshot) == WINDOW
    colours = png_pixels(shot.screenshot).counts()
    assert len(colours) > 200  # anti-aliased text and several fills, not a blank page
    white = colours[(255, 255, 255)]
    assert white < 0.97 * WINDOW[0] * WINDOW[1]
    # the bundles plot's "licence held" blue and the licences plot's "active" green are painted
    assert colours[(0x00, 0x72, 0xB2)] > 500
    assert colours[(0x00, 0x9E, 0x73)] > 500


def test_subjects_never_appear_in_the_report(reported: Reported) -> None:
    city = reported.city
    subjects = city.subjects(SubjectKind.PERSON) + city.subjects(SubjectKind.ORGANISATION)
    assert city.married_person() in subjects and len(subjects) > 400
    assert not [subject for subject in subjects if subject in reported.html]
