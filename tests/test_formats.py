"""The formats registry and the one content negotiator."""

from __future__ import annotations

import io

import pytest
from pyoxigraph import QueryResultsFormat, RdfFormat

from expgraph.catalog import LOAD_FORMATS
from expgraph.formats import (
    DATASET,
    FORMATS,
    GRAPH,
    RESULTS,
    acceptable_default,
    by_media_type,
    by_name,
    by_suffix,
    formats,
    media_types,
    negotiate,
    preferred_rdf,
)
from expgraph.store import EmbeddedStore


def test_each_format_is_listed_once_with_what_its_kind_needs() -> None:
    assert len({f.name for f in FORMATS}) == len(FORMATS)
    for f in FORMATS:
        assert (f.rdf is not None) == (f.kind in (GRAPH, DATASET)) and (f.results is not None) == (f.kind == RESULTS)
        if f.rdf is not None:
            assert f.rdf.supports_datasets or f.kind == GRAPH  # JSON-LD holds datasets too; it is listed as a graph
            assert f.media_type == f.rdf.media_type  # what pyoxigraph's serialiser says it writes
    for kinds in ((GRAPH, DATASET), (RESULTS,)):  # a suffix or media type names one format within a use
        assert len({s for f in formats(*kinds) for s in f.suffixes}) == sum(len(f.suffixes) for f in formats(*kinds))
        assert len(set(media_types(*kinds))) == len(media_types(*kinds))


def test_lookups_by_name_media_type_and_suffix() -> None:
    assert by_name("turtle", GRAPH).rdf is RdfFormat.TURTLE and by_name("turtle", RESULTS) is None
    assert by_media_type("Application/X-Turtle; charset=utf-8", GRAPH).name == "turtle"
    assert by_media_type("text/xml", RESULTS).results is QueryResultsFormat.XML
    assert by_suffix(".SRJ", RESULTS).name == "json" and by_suffix(".json", GRAPH).name == "jsonld"
    assert LOAD_FORMATS[".owl"] is RdfFormat.RDF_XML and ".csv" not in LOAD_FORMATS
    assert media_types(RESULTS)[0] == "application/sparql-results+json"  # the default answer
    assert media_types(GRAPH)[0] == "text/turtle"


def test_export_names_the_formats_it_knows() -> None:
    with pytest.raises(ValueError, match="choose one of nquads, trig, turtle, ntriples, jsonld, rdfxml"):
        EmbeddedStore().dump(io.BytesIO(), "csv")


@pytest.mark.parametrize(("accept", "chosen"), [
    ("", "application/sparql-results+json"),
    ("text/csv", "text/csv"),
    ("text/csv;q=0.5, application/sparql-results+xml", "application/sparql-results+xml"),
    ("*/*, text/csv;q=0", "application/sparql-results+json"),
    ("text/*", "text/csv"),
    ("text/tab-separated-values, text/csv", "text/tab-separated-values"),  # equal q: the header's order
    ("image/png", None),
])
def test_negotiate_follows_q_values_specificity_and_header_order(accept: str, chosen: str | None) -> None:
    assert negotiate(accept, media_types(RESULTS)) == chosen


def test_acceptable_default_answers_something_unless_refused() -> None:
    offered = media_types(GRAPH)
    assert acceptable_default("application/sparql-results+json", offered) == "text/turtle"
    assert acceptable_default("text/turtle;q=0", offered) == "application/n-triples"


@pytest.mark.parametrize(("accept", "rdf"), [
    ("", None),
    ("text/html", None),
    ("application/json", None),
    ("*/*", None),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", None),  # a browser
    ("text/turtle", "text/turtle"),
    ("application/ld+json", "application/ld+json"),
    ("text/html;q=0.5, text/turtle", "text/turtle"),
    ("text/turtle, text/html", None),  # a tie goes to the page
    ("application/n-triples, text/turtle", "application/n-triples"),  # between RDF forms, the header's order
    ("text/turtle; q=0.7, application/ld+json; q=0.8", "application/ld+json"),
    ("text/turtle;q=0", None),
    # the client prefers anything to Turtle: the page (the resource negotiator before the registry said Turtle)
    ("text/turtle;q=0.5, */*;q=0.8", None),
])
def test_a_resource_answers_rdf_only_when_preferred_to_its_page(accept: str, rdf: str | None) -> None:
    chosen = preferred_rdf(accept)
    assert (chosen.media_type if chosen else None) == rdf


def test_the_cli_offers_only_registered_formats() -> None:
    from expgraph.cli.data import ExportFormat, ResultFormat
    from expgraph.cli.query import QueryFormat

    assert all(by_name(value, GRAPH, DATASET) for value in ExportFormat)
    assert all(by_name(value, GRAPH, RESULTS) for value in ResultFormat if value != "table")
    assert all(by_name(value, RESULTS) for value in QueryFormat if value != "table")
