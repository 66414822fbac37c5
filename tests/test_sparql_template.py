"""Saved-query parameters are bound as terms in slots, never by text replacement, and saved queries are guarded."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph
import pytest
from pyoxigraph import Literal, NamedNode

from expgraph.sparql.guard import check_query
from expgraph.sparql.saved import SavedQueryError, parse_query_file, run_saved
from expgraph.sparql.template import SparqlTemplate, TemplateError, TermList, values
from expgraph.store import EmbeddedStore
from expgraph.store.base import logical_to_versions, sparql_term

XSD_INTEGER = NamedNode("http://www.w3.org/2001/XMLSchema#integer")

HOSTILE = [
    '" } SERVICE <http://127.0.0.1:1/> { "',
    "' } SERVICE <http://127.0.0.1:1/> { '",
    '\\" } SERVICE <http://127.0.0.1:1/> { #',
    "#@params",
    '"""\n} LIMIT 0 #',
    "x\r\nSERVICE <http://127.0.0.1:1/> {}",
    "\\u0022 } SERVICE <http://127.0.0.1:1/> { \\u0022",
    "a\x1bb\x00c",
]


def _saved(tmp_path: Path, body: str, *params: str) -> Path:
    path = tmp_path / "q.rq"
    header = "\n".join(["# title: test", *(f"# param: {p}" for p in params)])
    path.write_text(f"{header}\n{body}\n", encoding="utf-8")
    return path


def test_a_marker_inside_a_literal_is_not_a_slot():
    template = SparqlTemplate.parse('SELECT * WHERE { BIND("#@params" AS ?x)\n  #@params\n}')
    assert list(template.slots) == ["params"] and len(template.slots["params"]) == 1
    text = template.bind(params=(["v"], [[Literal("1")]]))
    assert 'BIND("#@params" AS ?x)' in text and 'VALUES (?v) { ("1") }' in text


def test_binding_a_slot_that_is_not_there_fails():
    with pytest.raises(TemplateError):
        SparqlTemplate.parse("SELECT * {}").bind(params=(["v"], [[Literal("1")]]))


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_string_parameter_stays_one_literal(tmp_path, value):
    saved = parse_query_file(_saved(tmp_path, "SELECT ?_mode WHERE {\n  #@params\n}",
                                    "mode string default=any -- a mode"))
    store = EmbeddedStore()
    rows = list(run_saved(store, saved, {"mode": value}))
    assert [row["_mode"] for row in rows] == [Literal(value)]


def test_a_pairs_value_holding_a_marker_is_a_literal_not_a_slot(tmp_path):
    """``config=a=#@params``: text replacement put the scalar VALUES block inside the pairs' literal."""
    saved = parse_query_file(_saved(
        tmp_path, "SELECT ?_mode ?_config_key ?_config_value WHERE {\n  #@params\n  #@values config\n}",
        "mode string default=any -- a mode", "config pairs -- key=value pairs"))
    text = saved.bind({"config": "a=#@params", "mode": '" } SERVICE <http://127.0.0.1:1/> { "'})
    assert text.count("VALUES") == 2
    rows = list(pyoxigraph.Store().query(check_query(text).text))
    assert [(r["_config_key"].value, r["_config_value"].value, r["_mode"].value) for r in rows] == [
        ("a", "#@params", '" } SERVICE <http://127.0.0.1:1/> { "')]


def test_an_iri_parameter_cannot_carry_syntax(tmp_path):
    saved = parse_query_file(_saved(tmp_path, "SELECT ?_run WHERE {\n  #@params\n}",
                                    "run iri default=urn:x -- a run"))
    with pytest.raises(SavedQueryError):
        saved.bind({"run": "urn:x> } SERVICE <http://127.0.0.1:1/"})
    assert [r["_run"] for r in run_saved(EmbeddedStore(), saved, {"run": "urn:y"})] == [NamedNode("urn:y")]


def test_saved_queries_pass_the_guard(tmp_path):
    saved = parse_query_file(_saved(tmp_path, "SELECT * WHERE { #\r SERVICE <http://127.0.0.1:1/> { ?s ?p ?o } }"))
    with pytest.raises(SavedQueryError, match="SERVICE is refused"):
        run_saved(EmbeddedStore(), saved)


@pytest.mark.parametrize("value", [*HOSTILE, "C:\\Users\\u0041", "\\\\u0022", "\\U00000041", "é\u2028\x0c\t", ""])
def test_a_literal_round_trips_through_the_escaping_function_the_guard_and_the_engine(value):
    """A value bound by sparql_term, checked and rebuilt by the guard, reads back as itself in pyoxigraph."""
    text = check_query(f"SELECT ?x WHERE {{ BIND({sparql_term(Literal(value))} AS ?x) }}").text
    assert [row["x"].value for row in pyoxigraph.Store().query(text)] == [value]


def test_graph_names_are_mapped_in_iris_and_prefixed_names_with_escapes_kept():
    versions = {"urn:g": NamedNode("urn:g/version/1"), "http://x/A": NamedNode("http://x/A/version/2")}
    query = ('PREFIX x: <http://x/> SELECT ("\\\\\\u0075" AS ?s) WHERE { GRAPH <urn:g> {} GRAPH x:\\u0041 {} '
             'GRAPH <urn:gg> {} BIND(<urn:g> AS ?g) }')
    assert logical_to_versions(query, versions) == (
        'PREFIX x: <http://x/> SELECT ("\\\\\\u0075" AS ?s) WHERE { GRAPH <urn:g/version/1> {} '
        'GRAPH <http://x/A/version/2> {} GRAPH <urn:gg> {} BIND(<urn:g/version/1> AS ?g) }')


def _one_column(text: str) -> list:
    return [row[0] for row in pyoxigraph.Store().query(check_query(text).text)]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_term_in_each_slot_kind_stays_a_term(value):
    """A term, a list of terms and a VALUES block each hold the hostile text as one literal, never as syntax."""
    template = SparqlTemplate.parse("SELECT ?x WHERE {\n  #@block\n  FILTER(?x IN (#@listed\n)"
                                    " && ?x = #@one\n) } LIMIT #@limit\n")
    hostile = Literal(value)
    text = template.bind(block=values("x", [hostile, Literal("other")]), listed=TermList.of([hostile]),
                         one=hostile, limit=5)
    assert _one_column(text) == [hostile]


def test_a_number_slot_takes_integers_only():
    template = SparqlTemplate.parse("SELECT ?x WHERE { VALUES ?x { 1 2 3 } } LIMIT #@limit\n")
    assert len(_one_column(template.bind(limit=2))) == 2
    for wrong in ("2 } SERVICE <http://127.0.0.1:1/> {", True, 2.5):
        with pytest.raises(TemplateError):
            template.bind(limit=wrong)


def test_a_fragment_is_inserted_with_its_own_slots_bound_from_the_same_values():
    """The trusted fragment (a constant template) brings slots of its own; leaving it out leaves a comment."""
    fragment = SparqlTemplate.parse("UNION { #@s\n BIND(2 AS ?k) }")
    template = SparqlTemplate.parse("SELECT ?k WHERE { { #@s\n BIND(1 AS ?k) }\n #@extra\n }")
    s = values("s", NamedNode("urn:a"))
    assert sorted(int(k.value) for k in _one_column(template.bind(s=s, extra=fragment))) == [1, 2]
    assert [int(k.value) for k in _one_column(template.bind(s=s, extra=None))] == [1]
    assert [int(k.value) for k in _one_column(template.bind(s=s))] == [1]
    with pytest.raises(TemplateError):  # the fragment's slot is known only when the fragment is given
        SparqlTemplate.parse("SELECT * WHERE { #@extra\n }").bind(s=s)


def test_an_empty_term_list_matches_nothing_and_a_marker_in_a_value_is_not_a_slot():
    template = SparqlTemplate.parse("SELECT ?x WHERE { VALUES ?x { 1 } FILTER(?x IN (#@listed\n)) }")
    assert _one_column(template.bind(listed=TermList.of([]))) == []
    text = template.bind(listed=TermList.of([Literal("#@listed\n"), Literal("1", datatype=XSD_INTEGER)]))
    assert text.count("#@listed") == 1 and len(_one_column(text)) == 1


def test_a_value_of_no_slot_kind_is_refused():
    template = SparqlTemplate.parse("SELECT * WHERE { #@s\n }")
    for wrong in ("<urn:a>", ["urn:a"], {"s": 1}):
        with pytest.raises(TemplateError):
            template.bind(s=wrong)


@pytest.mark.parametrize("value", ["C:\\Users\\u0041", "\\u0022 } SERVICE <http://127.0.0.1:1/> { \\u0022"])
def test_a_template_filled_with_a_constant_keeps_its_backslashes(value):
    """``fill`` binds some slots now and keeps the rest: the terms written are not unescaped a second time."""
    template = SparqlTemplate.parse("SELECT ?x WHERE {\n  #@block\n  FILTER(?x IN (#@listed\n)) }")
    filled = template.fill(listed=TermList.of([Literal(value)]))
    assert list(filled.slots) == ["block"]
    assert _one_column(filled.bind(block=values("x", [Literal(value), Literal("other")]))) == [Literal(value)]
