"""The DCAT export is real RDF: parsed by rdflib and queried with SPARQL."""

from __future__ import annotations

import json

import pytest
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib import namespace as ns
from stdnum.cn import uscc as stdnum_uscc

from catalog.dcat import to_dcat
from catalog.loader import load_catalogue
from catalog.schema import Catalogue

# rdflib 7's own JSON-LD parser still builds a ConjunctiveGraph internally.
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")

EU = "http://publications.europa.eu/resource/authority/"
ONCEONLY = Namespace("https://data.hangzhou.gov.cn/onceonly/ns#")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def graph(catalogue: Catalogue) -> Graph:
    return Graph().parse(data=json.dumps(to_dcat(catalogue)), format="json-ld")


def dataset_uri(code: str) -> URIRef:
    return URIRef(f"https://data.hangzhou.gov.cn/onceonly/dataset/{code}")


def test_one_dcat_dataset_per_declared_dataset_in_one_catalog(
    graph: Graph, catalogue: Catalogue
) -> None:
    (count,) = next(iter(graph.query("SELECT (COUNT(?d) AS ?n) WHERE { ?d a dcat:Dataset }")))
    assert count.toPython() == len(catalogue.datasets)
    (catalog,) = graph.subjects(ns.RDF.type, ns.DCAT.Catalog)
    identifiers = {
        str(graph.value(d, ns.DCTERMS.identifier)) for d in graph.objects(catalog, ns.DCAT.dataset)
    }
    assert identifiers == {dataset.code for dataset in catalogue.datasets}


@pytest.mark.parametrize(
    "pattern",
    [
        '?d dct:title ?t . FILTER(lang(?t) = "zh")',
        '?d dct:title ?t . FILTER(lang(?t) = "en")',
        "?d dct:description ?t . FILTER(strlen(?t) > 40)",
    ],
    ids=["title zh", "title en", "description"],
)
def test_every_dataset_has_titles_in_both_languages_and_a_description(
    graph: Graph, pattern: str
) -> None:
    query = f"SELECT ?d WHERE {{ ?d a dcat:Dataset . FILTER NOT EXISTS {{ {pattern} }} }}"
    assert list(graph.query(query)) == []


def test_titles_are_the_catalogue_names(graph: Graph) -> None:
    titles = set(graph.objects(dataset_uri("household_registration"), ns.DCTERMS.title))
    assert titles == {
        Literal("户籍人口信息", lang="zh"),
        Literal("Registered household population", lang="en"),
    }


def test_every_dataset_has_a_publisher_identified_by_its_uscc(
    graph: Graph, catalogue: Catalogue
) -> None:
    rows = list(
        graph.query(
            """SELECT ?id ?code ?name WHERE {
                 ?d a dcat:Dataset ; dct:identifier ?id ; dct:publisher ?p .
                 ?p a foaf:Organization ; dct:identifier ?code ; foaf:name ?name .
                 FILTER(lang(?name) = "zh") }"""
        )
    )
    assert len(rows) == len(catalogue.datasets)
    for identifier, code, name in rows:
        department = catalogue.department(catalogue.dataset(str(identifier)).department)
        assert stdnum_uscc.is_valid(str(code)) and str(code) == department.uscc
        assert str(name) == department.name


@pytest.mark.parametrize(
    ("code", "frequency", "access", "sharing"),
    [
        ("household_registration", "DAILY", "NON_PUBLIC", "unconditional"),
        ("business_registration", "DAILY", "PUBLIC", "unconditional"),
        ("employer_social_insurance", "MONTHLY", "RESTRICTED", "unconditional"),
        ("food_business_licence", "WEEKLY", "PUBLIC", "unconditional"),
        ("academic_degree", "ANNUAL", "NON_PUBLIC", "unconditional"),
        ("marriage_registration", "DAILY", "NON_PUBLIC", "conditional"),
    ],
)
def test_vocabularies(graph: Graph, code: str, frequency: str, access: str, sharing: str) -> None:
    subject = dataset_uri(code)
    assert graph.value(subject, ns.DCTERMS.accrualPeriodicity) == URIRef(
        f"{EU}frequency/{frequency}"
    )
    assert graph.value(subject, ns.DCTERMS.accessRights) == URIRef(f"{EU}access-right/{access}")
    assert graph.value(subject, ONCEONLY.sharingClass) == Literal(sharing)


@pytest.mark.parametrize(
    ("code", "media_type", "encoding"),
    [
        ("household_registration", "text/csv", "gbk"),
        ("social_insurance", "text/csv", "utf-8-sig"),
        ("academic_degree", "text/csv", None),  # not declared: detected on ingest
        (
            "marriage_registration",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            None,
        ),
        ("medical_insurance", "application/vnd.apache.parquet", None),
        ("tax_registration", "application/jsonl", None),
    ],
)
def test_distributions(graph: Graph, code: str, media_type: str, encoding: str | None) -> None:
    (distribution,) = graph.objects(dataset_uri(code), ns.DCAT.distribution)
    assert (distribution, ns.RDF.type, ns.DCAT.Distribution) in graph
    assert str(graph.value(distribution, ns.DCAT.mediaType)).endswith(f"/media-types/{media_type}")
    declared = graph.value(distribution, ONCEONLY.characterEncoding)
    assert (str(declared) if declared is not None else None) == encoding


def test_keywords_and_catalogue_publisher(graph: Graph) -> None:
    keywords = {str(k) for k in graph.objects(dataset_uri("housing_fund"), ns.DCAT.keyword)}
    assert "住房公积金" in keywords
    (catalog,) = graph.subjects(ns.RDF.type, ns.DCAT.Catalog)
    publisher = graph.value(catalog, ns.DCTERMS.publisher)
    assert Literal("杭州市数据资源管理局", lang="zh") in graph.objects(publisher, ns.FOAF.name)


def test_the_base_uri_is_respected(catalogue: Catalogue) -> None:
    document = to_dcat(catalogue, base_uri="https://example.org/cat")
    graph = Graph().parse(data=json.dumps(document), format="json-ld")
    subjects = set(graph.subjects(ns.RDF.type, ns.DCAT.Dataset))
    assert URIRef("https://example.org/cat/dataset/housing_fund") in subjects
    sharing = URIRef("https://example.org/cat/ns#sharingClass")
    assert len(set(graph.subjects(sharing, None))) == len(catalogue.datasets)
