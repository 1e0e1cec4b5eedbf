"""Shared test data for the licence tests: valid holders and a complete business licence."""

from __future__ import annotations

from stdnum.cn import ric
from stdnum.cn import uscc as stdnum_uscc

BUSINESS_LICENCE = "11100000MB0143028R001"
MARRIAGE_CERTIFICATE = "11100000000013303A001"


def organisation_code(number: int) -> str:
    """A GB 11714 organisation code: 8 characters and their check character."""
    body = f"{number:08d}"
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    check = 11 - sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def company(number: int) -> str:
    """A valid USCC (check character from python-stdnum) for company ``number``."""
    body = "91330106" + organisation_code(number)
    return body + stdnum_uscc.calc_check_digit(body)


def person(number: int) -> str:
    body = f"33010619850312{number:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum ignores the last character


def business_fields(number: int, **changes: str) -> dict[str, str]:
    return {
        "uscc": company(number),
        "name": f"杭州测试{number}有限公司",
        "entity_type": "有限责任公司",
        "legal_representative": "张三",
        "registered_capital": "100.00",
        "established_date": "2020-05-01",
        "address": "杭州市西湖区文三路1号",
        "business_scope": "软件开发",
        "registration_authority": "杭州市西湖区市场监督管理局",
    } | changes
