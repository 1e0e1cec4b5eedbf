"""The public verification page: what it shows of a licence, and how it is rendered.

The QR code on a printed licence opens ``/verify/<licence id>`` on whoever's phone scans it, so
the page answers exactly the question "is this paper genuine and in force now?" and no other:
the licence type, the issuing department, the validity period, the status at this moment, the
holder's name and code masked (enough to match the paper in one's hand, too little to learn who
holds which licences), the version and the time of the check. The licence's own fields (a
business scope, a spouse's name, an address) are on the paper and in the signed document the
holder may present; the page never repeats them. `VerifyPage` is that list, and the template
gets nothing else, so a field cannot leak into the page by a template edit.

Times are shown in China Standard Time, the time zone of the paper licence.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from catalog.schema import Catalogue, SubjectKind
from exchange.identifiers.subjects import mask_subject
from exchange.ingest.history import as_utc
from licences.models import LicenceVersion
from licences.verification import Outcome, Verification

CHINA = ZoneInfo("Asia/Shanghai")
LONG_TERM = "长期"

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,  # every value on the page is data; none of it is markup
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class StatusLabel:
    """One outcome as a reader sees it: Chinese and English words, and the page's colour
    (``ok`` green, ``warn`` amber, ``bad`` red)."""

    outcome: str
    zh: str
    en: str
    tone: str
    note_zh: str
    note_en: str


STATUS_LABELS: dict[Outcome, StatusLabel] = {
    label.outcome: label
    for label in (
        StatusLabel(
            Outcome.VALID,
            "有效",
            "Valid",
            "ok",
            "证照真实有效。",
            "The licence is genuine and in force.",
        ),
        StatusLabel(
            Outcome.EXPIRED,
            "已过期",
            "Expired",
            "bad",
            "证照已超过有效期。",
            "The validity period has ended.",
        ),
        StatusLabel(
            Outcome.REVOKED,
            "已撤销",
            "Revoked",
            "bad",
            "证照已被发证机关撤销。",
            "The issuer revoked it.",
        ),
        StatusLabel(
            Outcome.SUSPENDED,
            "已暂停",
            "Suspended",
            "warn",
            "证照已被发证机关暂停使用。",
            "The issuer suspended it.",
        ),
        StatusLabel(
            Outcome.SUPERSEDED,
            "已被新版本取代",
            "Superseded",
            "warn",
            "此版本已被更新的版本取代，请以最新版本为准。",
            "A newer version of this licence exists.",
        ),
        StatusLabel(
            Outcome.BAD_SIGNATURE,
            "签名无效",
            "Invalid signature",
            "bad",
            "电子签名验证失败，请勿采信。",
            "The signature does not verify; do not rely on it.",
        ),
        StatusLabel(
            Outcome.UNKNOWN_KEY,
            "签名密钥未知",
            "Unknown signing key",
            "bad",
            "签名密钥不属于本平台，请勿采信。",
            "Signed with a key the exchange does not know.",
        ),
        StatusLabel(
            Outcome.REVOKED_KEY,
            "签名密钥已吊销",
            "Signing key revoked",
            "bad",
            "签名所用密钥已被吊销，请勿采信。",
            "Signed with a key that was revoked.",
        ),
        StatusLabel(
            Outcome.UNKNOWN,
            "非本平台签发",
            "Not issued here",
            "bad",
            "本平台从未签发此文档。",
            "The exchange never issued this document.",
        ),
        StatusLabel(
            Outcome.MALFORMED,
            "文档格式错误",
            "Malformed document",
            "bad",
            "电子证照文档无法解析。",
            "The licence document cannot be read.",
        ),
    )
}


@dataclass(frozen=True)
class VerifyPage:
    """Everything the verification page shows, already masked and formatted."""

    licence_id: str
    type_name: str
    type_name_en: str
    issuer_name: str
    issuer_name_en: str
    valid_from: str
    valid_until: str
    status: StatusLabel
    holder_name: str
    holder_code: str
    version: int
    checked_at: str

    def as_json(self) -> dict[str, Any]:
        """The same facts for a machine (``?format=json``), the status as its outcome code."""
        data = asdict(self)
        label = data.pop("status")
        data["status"] = label["outcome"]
        data["status_zh"] = label["zh"]
        data["status_en"] = label["en"]
        return data


def verify_page(
    row: LicenceVersion, verification: Verification, catalogue: Catalogue
) -> VerifyPage:
    """The page of one stored licence version, with the outcome of verifying it just now.

    Names come from the catalogue (which has the English ones too); a type or department no
    longer in the catalogue falls back to the names in the signed document.
    """
    type_name, type_name_en = _type_names(row, catalogue)
    issuer_name, issuer_name_en = _issuer_names(row, catalogue)
    return VerifyPage(
        licence_id=row.id,
        type_name=type_name,
        type_name_en=type_name_en,
        issuer_name=issuer_name,
        issuer_name_en=issuer_name_en,
        valid_from=china_date(row.valid_from),
        valid_until=LONG_TERM if row.valid_until is None else last_valid_day(row.valid_until),
        status=STATUS_LABELS[verification.outcome],
        holder_name=mask_holder_name(row.holder_name, SubjectKind(row.holder_kind)),
        holder_code=mask_subject(row.holder_key),
        version=row.version,
        checked_at=china_time(verification.checked_at),
    )


def render_page(page: VerifyPage) -> str:
    return _TEMPLATES.get_template("verify.html").render(page=page, missing=None)


def render_missing(licence_id: str) -> str:
    """The 404 page: the identifier as given (escaped), and that no such licence exists."""
    # a visitor's typo is shown back so they can compare it with the paper; cut to a sane length
    shown = licence_id if len(licence_id) <= 120 else licence_id[:120] + "…"
    return _TEMPLATES.get_template("verify.html").render(page=None, missing=shown)


# -- formatting ------------------------------------------------------------------------------


def china_date(moment: datetime) -> str:
    return as_utc(moment).astimezone(CHINA).strftime("%Y-%m-%d")


def china_time(moment: datetime) -> str:
    return as_utc(moment).astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def last_valid_day(valid_until: datetime) -> str:
    """The last day the licence is valid on, as the paper states it.

    A paper licence says "valid until 2029-12-31" meaning through that day; the store keeps the
    instant validity ends, midnight China time of the next day (`licences.issuance`), which
    would read as 2030-01-01. An end at any other instant is shown as its own day.
    """
    local = as_utc(valid_until).astimezone(CHINA)
    if (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        local -= timedelta(days=1)
    return local.strftime("%Y-%m-%d")


# -- masking ---------------------------------------------------------------------------------

#: Legal forms an organisation's name ends with (GB/T 20001 naming practice); they say what kind
#: of entity it is, not which one, so the mask keeps them. Longest first: the first match wins.
LEGAL_FORMS = tuple(
    sorted(
        (
            "股份有限公司",
            "有限责任公司",
            "有限公司",
            "分公司",
            "公司",
            "个人独资企业",
            "有限合伙",
            "普通合伙",
            "合伙企业",
            "专业合作社",
            "合作社",
            "事务所",
            "集团",
        ),
        key=len,
        reverse=True,
    )
)
_BRACKETED_TAIL = re.compile(r"[（(][^（()）]*[)）]$")


def mask_holder_name(name: str, kind: SubjectKind) -> str:
    """The holder's name with all but a few telling characters hidden, one ``*`` per character.

    * A person keeps the first character (usually the surname): ``张三`` → ``张*``.
    * An organisation whose name ends in a legal form keeps its first two characters (usually
      the city) and the legal form: ``杭州测试科技有限公司`` → ``杭州****有限公司``. Without a
      legal form (an individual business is often named after its owner: ``张三小吃店``) it
      keeps only the first character.

    A name of one character is hidden entirely.
    """
    name = name.strip()
    if len(name) <= 1:
        return "*" * len(name)
    if kind is SubjectKind.PERSON:
        return name[0] + "*" * (len(name) - 1)
    tail = _legal_form(name)
    head = 2 if tail else 1
    middle = len(name) - head - len(tail)
    if middle < 1:  # nothing would be hidden: hide all but the first character
        return name[0] + "*" * (len(name) - 1)
    return name[:head] + "*" * middle + tail


def _legal_form(name: str) -> str:
    """The name's legal-form ending, a bracketed note after it included (``有限合伙（特殊）``)."""
    bracket = _BRACKETED_TAIL.search(name)
    core = name[: bracket.start()] if bracket else name
    for form in LEGAL_FORMS:
        if core.endswith(form):
            return form + (bracket.group(0) if bracket else "")
    return ""


def _type_names(row: LicenceVersion, catalogue: Catalogue) -> tuple[str, str]:
    try:
        licence_type = catalogue.licence_type(row.type_code)
    except KeyError:
        return _signed_name(row, "name") or row.type_code, ""
    return licence_type.name, licence_type.name_en


def _issuer_names(row: LicenceVersion, catalogue: Catalogue) -> tuple[str, str]:
    try:
        department = catalogue.department(row.issuer)
    except KeyError:
        return _signed_name(row, "issuer") or row.issuer, ""
    return department.name, department.name_en


def _signed_name(row: LicenceVersion, key: str) -> str | None:
    """``name`` (the type's) or ``issuer.name`` as the signed document states it."""
    value = json.loads(row.document).get(key)
    if isinstance(value, dict):
        value = value.get("name")
    return value if isinstance(value, str) else None
