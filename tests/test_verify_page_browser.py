"""The verification page as a phone shows it: the app under uvicorn, opened in headless Chromium.

What the QR code on a printed licence opens must show, in a real browser, the type, the issuer,
the status now and the holder masked, and none of the licence's other fields; a revocation must
show at the next scan. The screenshot is decoded, so the status banner's colour is checked too.
"""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from browser import Capture, capture, chromium, png_pixels, png_size, serve
from licence_helpers import BUSINESS_LICENCE, business_fields, company
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from exchange.api.app import create_app
from exchange.bootstrap import initialise
from exchange.identifiers.subjects import mask_subject
from exchange.settings import Settings
from licences.issuance import LicenceBook, Lineage, NewLicence

MARKET = "market_regulation"
HOLDER = company(7)
HOLDER_NAME = "杭州云栖测试科技有限公司"
SCOPE = "软件开发；区块链技术服务；唯一可辨的经营范围"
ADDRESS = "杭州市西湖区文三路478号"
REPRESENTATIVE = "欧阳明"
GREEN = (0x1B, 0x7F, 0x3B)  # the page's --ok colour
RED = (0xB3, 0x26, 0x1E)  # its --bad colour
PHONE = (412, 915)


class _Text(HTMLParser):
    """The text a reader sees: everything outside tags, <title>, <style> and <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in ("style", "script", "title")

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in ("style", "script", "title")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(dom: str) -> str:
    parser = _Text()
    parser.feed(dom)
    return " ".join(" ".join(parser.parts).split())


@pytest.fixture
def served(store: Engine, settings: Settings) -> Iterator[tuple[str, str, Engine]]:
    """A business licence issued in a fresh store, and the API serving that store."""
    chromium()  # skip before any work when there is no browser
    initialised = initialise(settings, engine=store)
    with Session(store) as session, session.begin():
        book = LicenceBook(
            session, initialised.catalogue, passphrase=settings.passphrase, urls=settings.urls
        )
        (row,) = book.issue(
            BUSINESS_LICENCE,
            issuer=MARKET,
            licences=[
                NewLicence(
                    holder=HOLDER,
                    holder_name=HOLDER_NAME,
                    fields=business_fields(
                        7,
                        uscc=HOLDER,
                        name=HOLDER_NAME,
                        business_scope=SCOPE,
                        address=ADDRESS,
                        legal_representative=REPRESENTATIVE,
                    ),
                    lineage=Lineage(requested_by="test", request_reason="browser test"),
                )
            ],
        )
        licence_id = row.id
    with serve(create_app(settings, engine=store)) as base:
        yield base, licence_id, store


def screenshot_checks(shot: Capture, banner: tuple[int, int, int]) -> None:
    assert png_size(shot.screenshot) == PHONE
    assert shot.screenshot.stat().st_size > 8_000  # text and a banner, not an empty page
    colours = png_pixels(shot.screenshot).counts()
    # the status banner spans the card's width and is over 100 pixels high
    assert colours[banner] > 300 * 100, colours.most_common(5)
    assert len(colours) > 50  # anti-aliased text in several colours, not a flat image


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_qr_code_page_shows_status_type_issuer_and_a_masked_holder_only(
    served: tuple[str, str, Engine], settings: Settings, tmp_path: Path
) -> None:
    base, licence_id, store = served

    valid = capture(f"{base}/verify/{licence_id}", tmp_path, name="valid")
    text = visible_text(valid.dom)
    for shown in (
        "营业执照",
        "杭州市市场监督管理局",
        "有效",
        "Valid",
        mask_subject(HOLDER),
        "杭州******有限公司",
        "长期",
        licence_id,
    ):
        assert shown in text, shown
    for hidden in (HOLDER, HOLDER_NAME, SCOPE, ADDRESS, REPRESENTATIVE, "100.00", "2020-05-01"):
        assert hidden not in valid.dom, hidden
    assert '<html lang="zh-CN">' in valid.dom
    screenshot_checks(valid, GREEN)

    with Session(store) as session, session.begin():
        LicenceBook(
            session,
            initialise(settings, engine=store).catalogue,
            passphrase=settings.passphrase,
            urls=settings.urls,
        ).revoke(licence_id, issuer=MARKET, reason="吊销")

    revoked = capture(f"{base}/verify/{licence_id}", tmp_path, name="revoked")
    text = visible_text(revoked.dom)
    assert "已撤销" in text
    assert "Revoked" in text
    assert "有效 Valid" not in text
    screenshot_checks(revoked, RED)
    assert png_pixels(revoked.screenshot).counts()[GREEN] == 0


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_an_unknown_identifier_opens_a_not_found_page(
    served: tuple[str, str, Engine], tmp_path: Path
) -> None:
    base, licence_id, _ = served
    unknown = licence_id.replace(".001.", ".002.")  # a version never issued (bad check char)
    shot = capture(f"{base}/verify/{unknown}", tmp_path, name="missing")
    text = visible_text(shot.dom)
    assert "未找到证照" in text
    assert "No such licence" in text
    screenshot_checks(shot, RED)
