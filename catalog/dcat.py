"""The catalogue's datasets as a DCAT-AP style JSON-LD document, for other catalogues to harvest.

What other catalogues understand is used as DCAT-AP uses it: titles in Chinese and English,
publishers as `foaf:Organization`s identified by their USCC, the EU frequency and access-right
vocabularies, IANA media types. What DCAT has no term for (the sharing class under
国发〔2016〕51号, the key kind, the legal basis, a CSV file's encoding) is stated with properties in
our own namespace, ``<base_uri>ns#``, so no reader mistakes it for a standard term.

Only datasets are described: licence types and service items are not data resources, and the
acceptance platform reads them from the catalogue API, not from a DCAT harvest.
"""

from __future__ import annotations

from typing import Any

from catalog.schema import Catalogue, Dataset, Department, FileFormat, Frequency, OpenClass

DEFAULT_BASE_URI = "https://data.hangzhou.gov.cn/onceonly/"

_EU = "http://publications.europa.eu/resource/authority/"
_IANA = "https://www.iana.org/assignments/media-types/"

FREQUENCIES = {
    Frequency.DAILY: f"{_EU}frequency/DAILY",
    Frequency.WEEKLY: f"{_EU}frequency/WEEKLY",
    Frequency.MONTHLY: f"{_EU}frequency/MONTHLY",
    Frequency.QUARTERLY: f"{_EU}frequency/QUARTERLY",
    Frequency.ANNUAL: f"{_EU}frequency/ANNUAL",
}

ACCESS_RIGHTS = {
    OpenClass.OPEN: f"{_EU}access-right/PUBLIC",
    OpenClass.CONDITIONAL: f"{_EU}access-right/RESTRICTED",
    OpenClass.NOT_OPEN: f"{_EU}access-right/NON_PUBLIC",
}

MEDIA_TYPES = {
    FileFormat.CSV: "text/csv",
    FileFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    FileFormat.PARQUET: "application/vnd.apache.parquet",
    FileFormat.JSONL: "application/jsonl",
}

CATALOGUE_TITLE = {
    "zh": "杭州市政务数据共享目录",
    "en": "Hangzhou government data-sharing catalogue",
}
CATALOGUE_DESCRIPTION = {
    "zh": "杭州市各部门通过政务数据共享交换平台提供的共享数据集，按共享类别和开放类别管理。",
    "en": "The datasets Hangzhou's departments share through the once-only exchange.",
}


def to_dcat(
    catalogue: Catalogue, *, base_uri: str = DEFAULT_BASE_URI, publisher: str = "data_bureau"
) -> dict[str, Any]:
    """A JSON-LD document: one `dcat:Catalog` with a `dcat:Dataset` per declared dataset.

    `publisher` is the department code of the catalogue's publisher (the exchange operator);
    it is left out if the catalogue has no such department.
    """
    base = base_uri if base_uri.endswith(("/", "#")) else f"{base_uri}/"
    departments = {department.code: department for department in catalogue.departments}
    document: dict[str, Any] = {
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "vcard": "http://www.w3.org/2006/vcard/ns#",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
            "onceonly": f"{base}ns#",
        },
        "@id": f"{base}catalog",
        "@type": "dcat:Catalog",
        "dct:title": _texts(CATALOGUE_TITLE),
        "dct:description": _texts(CATALOGUE_DESCRIPTION),
        "dcat:dataset": [
            _dataset(dataset, departments[dataset.department], base)
            for dataset in catalogue.datasets
        ],
    }
    if publisher in departments:
        document["dct:publisher"] = _organisation(departments[publisher], base)
    return document


def _dataset(dataset: Dataset, department: Department, base: str) -> dict[str, Any]:
    uri = f"{base}dataset/{dataset.code}"
    entry: dict[str, Any] = {
        "@id": uri,
        "@type": "dcat:Dataset",
        "dct:identifier": dataset.code,
        "dct:title": _texts({"zh": dataset.name, "en": dataset.name_en}),
        "dct:description": _texts({"zh": dataset.description}),
        "dct:publisher": _organisation(department, base),
        "dcat:contactPoint": {
            "@id": f"{base}department/{department.code}#contact",
            "@type": "vcard:Organization",
            "vcard:fn": department.name,
        },
        "dcat:keyword": list(dataset.keywords),
        "dct:accrualPeriodicity": {"@id": FREQUENCIES[dataset.update_frequency]},
        "dct:accessRights": {"@id": ACCESS_RIGHTS[dataset.open_class]},
        "onceonly:sharingClass": dataset.sharing_class.value,
        "onceonly:openClass": dataset.open_class.value,
        "onceonly:keyKind": dataset.key.kind.value,
        "dcat:distribution": [_distribution(dataset, uri)],
    }
    if dataset.legal_basis:
        entry["onceonly:legalBasis"] = {"@value": dataset.legal_basis, "@language": "zh"}
    return entry


def _distribution(dataset: Dataset, dataset_uri: str) -> dict[str, Any]:
    distribution: dict[str, Any] = {
        "@id": f"{dataset_uri}#distribution",
        "@type": "dcat:Distribution",
        "dcat:accessURL": {"@id": dataset_uri},
        "dcat:mediaType": {"@id": f"{_IANA}{MEDIA_TYPES[dataset.format]}"},
    }
    if dataset.encoding is not None:
        distribution["onceonly:characterEncoding"] = dataset.encoding.value
    return distribution


def _organisation(department: Department, base: str) -> dict[str, Any]:
    return {
        "@id": f"{base}department/{department.code}",
        "@type": "foaf:Organization",
        "foaf:name": _texts({"zh": department.name, "en": department.name_en}),
        "dct:identifier": department.uscc,
    }


def _texts(by_language: dict[str, str]) -> list[dict[str, str]]:
    return [{"@value": text, "@language": language} for language, text in by_language.items()]
