"""SHACL Core, feature by feature: expgraph's validator gives pySHACL's results on small graphs written here.

Each case is a data graph and a shapes graph in Turtle. Both go through expgraph (compiled SPARQL over the store,
or a named delegation) and through pySHACL (the reference) over the same store's export; the results must be the
same multiset of (focus node, path, value, source shape, component, severity). Cases marked ``compiled`` must not
be delegated: they test the compiler, not pySHACL against itself. Cases marked ``delegated`` must be named in the
report's ``fallback``, never skipped.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import pyoxigraph
import pytest
import rdflib
from pyoxigraph import NamedNode
from rdflib.namespace import RDF, SH

from expgraph.store import EmbeddedStore, Store
from expgraph.validation import Shapes, validate
from expgraph.validation.engine import ValidationResult, export_graph, pyshacl_results, read_report
from expgraph.validation.report import render_turtle

PREFIXES = """
@prefix ex: <http://example.org/> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""

#: name → (data, shapes, whether the shapes must be compiled (True) or delegated (False))
CASES: dict[str, tuple[str, str, bool]] = {
    "implicit class target": ("""
        ex:Person a rdfs:Class . ex:Student rdfs:subClassOf ex:Person .
        ex:ann a ex:Person ; ex:age 3 . ex:bob a ex:Student ; ex:age "x" . ex:cat ex:age "y" .""", """
        ex:Person a rdfs:Class, sh:NodeShape ; sh:property ex:PersonAge .
        ex:PersonAge sh:path ex:age ; sh:datatype xsd:integer .""", True),
    "top-level property shape": ("""
        ex:a ex:size 3 . ex:b ex:size "big" .""", """
        ex:Size a sh:PropertyShape ; sh:targetSubjectsOf ex:size ; sh:path ex:size ; sh:datatype xsd:integer ;
            sh:maxCount 1 .""", True),
    "node-level value constraints": ("""
        ex:a a ex:T ; ex:p 1 . ex:b a ex:U . ex:c ex:q ex:a .""", """
        ex:S1 a sh:NodeShape ; sh:targetNode ex:a, ex:b, ex:c, "lit", 5, 12 ; sh:class ex:T .
        ex:S2 a sh:NodeShape ; sh:targetNode ex:a, "lit", 5, 12, "abcdef" ; sh:datatype xsd:integer .
        ex:S3 a sh:NodeShape ; sh:targetNode ex:a, "lit", 5 ; sh:nodeKind sh:IRI .
        ex:S4 a sh:NodeShape ; sh:targetNode ex:a, ex:b, 5 ; sh:in ( ex:a 5 ) .
        ex:S5 a sh:NodeShape ; sh:targetNode ex:a, ex:b ; sh:hasValue ex:a .
        ex:S6 a sh:NodeShape ; sh:targetNode "abc", "ABD", ex:abc ; sh:pattern "^ab" ; sh:flags "i" .
        ex:S7 a sh:NodeShape ; sh:targetNode 5, 12, "lit", ex:a ; sh:minInclusive 5 ; sh:maxExclusive 12 .
        ex:S8 a sh:NodeShape ; sh:targetNode 5, 12 ; sh:minExclusive 5 ; sh:maxInclusive 11 .
        ex:S9 a sh:NodeShape ; sh:targetNode "ab", "abcdef", ex:a ; sh:minLength 3 ; sh:maxLength 5 .""", True),
    "logical constraints": ("""
        ex:a a ex:T ; ex:p 1 . ex:b a ex:U ; ex:p "x" . ex:c ex:p 2 .""", """
        ex:HasP a sh:NodeShape ; sh:property [ sh:path ex:p ; sh:minCount 1 ; sh:datatype xsd:integer ] .
        ex:IsT a sh:NodeShape ; sh:class ex:T .
        ex:N a sh:NodeShape ; sh:targetNode ex:a, ex:b, ex:c ; sh:node ex:HasP .
        ex:O a sh:NodeShape ; sh:targetNode ex:a, ex:b, ex:c ; sh:or ( ex:IsT [ sh:class ex:U ] ) .
        ex:A a sh:NodeShape ; sh:targetNode ex:a, ex:b, ex:c ; sh:and ( ex:IsT ex:HasP ) .
        ex:X a sh:NodeShape ; sh:targetNode ex:a, ex:b, ex:c ; sh:not ex:IsT .""", True),
    "property constraints": ("""
        ex:a a ex:T ; ex:p ex:x, ex:y ; ex:q "abc"@en, "d" . ex:b a ex:T ; ex:p ex:x . ex:c a ex:T .
        ex:x a ex:K . ex:y a ex:L .""", """
        ex:S a sh:NodeShape ; sh:targetClass ex:T ;
            sh:property ex:Pmin, ex:Pmax, ex:Pclass, ex:Phas, ex:Pq, ex:Pqual, ex:Pkind .
        ex:Pmin sh:path ex:p ; sh:minCount 2 .
        ex:Pmax sh:path ex:p ; sh:maxCount 1 .
        ex:Pclass sh:path ex:p ; sh:class ex:K .
        ex:Phas sh:path ex:p ; sh:hasValue ex:y .
        ex:Pq sh:path ex:q ; sh:in ( "abc"@en ) ; sh:maxLength 2 ; sh:pattern "^a" ; sh:datatype xsd:string .
        ex:Pqual sh:path ex:p ; sh:qualifiedValueShape [ sh:class ex:L ] ; sh:qualifiedMinCount 1 ;
            sh:qualifiedMaxCount 0 .
        ex:Pkind sh:path ex:p ; sh:nodeKind sh:BlankNodeOrLiteral .""", True),
    "all path kinds": ("""
        ex:a a ex:T ; ex:p ex:b . ex:b ex:q ex:c ; ex:p ex:d . ex:c ex:r "v" . ex:d ex:p ex:e .
        ex:z ex:p ex:a .""", """
        ex:S a sh:NodeShape ; sh:targetClass ex:T ;
            sh:property ex:Seq, ex:Alt, ex:Inv, ex:Star, ex:Plus, ex:Opt .
        ex:Seq sh:path ( ex:p ex:q ) ; sh:datatype xsd:string .
        ex:Alt sh:path [ sh:alternativePath ( ex:p ex:r ) ] ; sh:nodeKind sh:Literal .
        ex:Inv sh:path [ sh:inversePath ex:p ] ; sh:class ex:T .
        ex:Star sh:path [ sh:zeroOrMorePath ex:p ] ; sh:nodeKind sh:Literal .
        ex:Plus sh:path [ sh:oneOrMorePath ex:p ] ; sh:maxCount 2 .
        ex:Opt sh:path [ sh:zeroOrOnePath ex:p ] ; sh:class ex:T .""", True),
    "deactivated": ("""
        ex:a a ex:T .""", """
        ex:Off a sh:NodeShape ; sh:targetClass ex:T ; sh:deactivated true ; sh:class ex:Nope .
        ex:On a sh:NodeShape ; sh:targetClass ex:T ; sh:property ex:POff, ex:POn .
        ex:POff sh:path ex:p ; sh:minCount 1 ; sh:deactivated true .
        ex:POn sh:path ex:q ; sh:minCount 1 .""", True),
    "severities": ("""
        ex:a a ex:T .""", """
        ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:property ex:W, ex:I, ex:C .
        ex:W sh:path ex:p ; sh:minCount 1 ; sh:severity sh:Warning .
        ex:I sh:path ex:q ; sh:minCount 1 ; sh:severity sh:Info .
        ex:C sh:path ex:r ; sh:minCount 1 ; sh:severity ex:Custom .""", True),
    "identical results are not merged": ("""
        ex:a a ex:T .""", """
        ex:S a sh:NodeShape ; sh:targetNode ex:a, ex:none ; sh:class ex:U ; sh:class ex:V .""", True),
    "blank-node shapes": ("""
        ex:a a ex:T ; ex:p "x" .""", """
        [ a sh:NodeShape ; sh:targetClass ex:T ; sh:property [ sh:path ex:p ; sh:datatype xsd:integer ] ;
          sh:property [ sh:path [ sh:inversePath ex:p ] ; sh:minCount 1 ] ] .""", True),
    "datatypes, ill-formed literals and types the store rewrites": ("""
        ex:a ex:d "2020-01-01"^^xsd:date, "2020-13-01"^^xsd:date ; ex:t "10:00:00"^^xsd:time, "25:00:00"^^xsd:time ;
            ex:b "5"^^xsd:byte, "c"^^xsd:byte, 5 ; ex:i "x"^^xsd:int ; ex:n "1.5"^^xsd:decimal, "c"^^xsd:decimal .""",
        """
        ex:S a sh:NodeShape ; sh:targetNode ex:a ; sh:property ex:D, ex:T, ex:B, ex:I, ex:N .
        ex:D sh:path ex:d ; sh:datatype xsd:date .
        ex:T sh:path ex:t ; sh:datatype xsd:time .
        ex:B sh:path ex:b ; sh:datatype xsd:byte .
        ex:I sh:path ex:i ; sh:datatype xsd:int .
        ex:N sh:path ex:n ; sh:datatype xsd:decimal .""", True),
    "literal focus nodes": ("""
        ex:a ex:p 1 .""", """
        ex:S a sh:NodeShape ; sh:targetNode "Hello", "2"^^xsd:integer ; sh:datatype xsd:integer .""", True),
    "languageIn and uniqueLang": ("""
        ex:a a ex:T ; ex:l "a"@en, "b"@EN, "c"@de, "d"@de-AT, "e"@fr, "f"@fr, "g", "h", ex:i .""", """
        ex:L a sh:NodeShape ; sh:targetClass ex:T ; sh:property ex:PL, ex:PU, ex:PN .
        ex:PL sh:path ex:l ; sh:languageIn ( "en" "de" ) .
        ex:PU sh:path ex:l ; sh:uniqueLang true .
        ex:PN sh:path ex:l ; sh:uniqueLang false .
        ex:N a sh:NodeShape ; sh:targetNode "x"@en, "y"@fr ; sh:languageIn ( "en" ) .""", True),
    "delegated: xone, closed, equals, disjoint, lessThan": ("""
        ex:a a ex:T ; ex:p 1, 2 ; ex:q 1 ; ex:l "a"@en, "b"@en, "c"@de ; ex:extra 1 .""", """
        ex:X a sh:NodeShape ; sh:targetClass ex:T ; sh:xone ( [ sh:class ex:T ] [ sh:nodeKind sh:IRI ] ) .
        ex:C a sh:NodeShape ; sh:targetClass ex:T ; sh:closed true ; sh:ignoredProperties ( rdf:type ) ;
            sh:property [ sh:path ex:p ] , [ sh:path ex:q ] , [ sh:path ex:l ] .
        ex:E a sh:NodeShape ; sh:targetClass ex:T ; sh:property ex:PE .
        ex:PE sh:path ex:p ; sh:equals ex:q ; sh:disjoint ex:q ; sh:lessThan ex:q ; sh:lessThanOrEquals ex:q .""",
        False),
    "delegated: nested property shapes": ("""
        ex:a a ex:T ; ex:addr ex:x . ex:x ex:city ex:c .""", """
        ex:S a sh:NodeShape ; sh:targetClass ex:T ;
            sh:property [ sh:path ex:addr ; sh:property ex:City ] .
        ex:City sh:path ex:city ; sh:class ex:Town .""", False),
}


@pytest.fixture
def store() -> Iterator[Store]:
    store = EmbeddedStore()
    yield store
    store.close()


def load(store: Store, data: str, shapes: str) -> Shapes:
    triples = [q.triple for q in pyoxigraph.parse(PREFIXES + data, pyoxigraph.RdfFormat.TURTLE)]
    store.replace_graph(NamedNode("urn:test:data"), triples)
    return Shapes(rdflib.Graph().parse(data=PREFIXES + shapes, format="turtle"))


def multiset(results: list[ValidationResult]) -> Counter:
    """Results with data blank nodes made anonymous (the export relabels them); shape blank nodes are kept."""
    def anon(text: str | None) -> str | None:
        return None if text is None else re.sub(r"^_:\S+$", "_:", text)
    return Counter((anon(r.focus), r.path, anon(r.value), r.shape, r.component, r.severity) for r in results)


@pytest.mark.parametrize("name", list(CASES))
def test_same_results_as_pyshacl(store: Store, name: str) -> None:
    data, shapes_ttl, compiled = CASES[name]
    shapes = load(store, data, shapes_ttl)
    ours = validate(store, shapes)
    reference = pyshacl_results(export_graph(store), shapes.graph)
    assert reference, "each case must have results to compare"
    assert multiset(ours.results) == multiset(reference)
    if compiled:
        assert ours.fallback == {}
    else:
        assert ours.fallback and all(reason for reason in ours.fallback.values())


def test_identical_results_of_two_constraints_are_both_reported(store: Store) -> None:
    shapes = load(store, *CASES["identical results are not merged"][:2])
    results = validate(store, shapes).results
    assert Counter(r.focus for r in results) == {"http://example.org/a": 2, "http://example.org/none": 2}


def report_graph(store: Store, shapes: Shapes) -> tuple[rdflib.Graph, rdflib.term.Node]:
    graph = rdflib.Graph().parse(data=render_turtle(validate(store, shapes)), format="turtle")
    return graph, graph.value(None, RDF.type, SH.ValidationReport, any=False)


def test_turtle_report_is_standard_for_literal_focus_nodes_and_blank_shapes(store: Store) -> None:
    shapes = load(store, CASES["literal focus nodes"][0], CASES["literal focus nodes"][1] + """
        [ a sh:NodeShape ; sh:targetNode ex:a ; sh:property [ sh:path ( ex:p [ sh:inversePath ex:p ] ) ;
          sh:minCount 2 ] ] .""")
    graph = rdflib.Graph().parse(data=render_turtle(validate(store, shapes)), format="turtle")
    report = next(graph.subjects(RDF.type, SH.ValidationReport))
    assert graph.value(report, SH.conforms) == rdflib.Literal(False)
    results = list(graph.objects(report, SH.result))
    assert {graph.value(r, SH.focusNode) for r in results} >= {rdflib.Literal("Hello")}
    for result in results:
        for predicate in (SH.focusNode, SH.sourceShape, SH.sourceConstraintComponent, SH.resultSeverity,
                          SH.resultMessage):
            assert graph.value(result, predicate) is not None, predicate
    blank = next(r for r in results if isinstance(graph.value(r, SH.sourceShape), rdflib.BNode))
    shape = graph.value(blank, SH.sourceShape)
    path = graph.value(blank, SH.resultPath)
    assert graph.value(shape, SH.minCount) == rdflib.Literal(2)  # the blank shape comes with its description
    assert next(iter(rdflib.collection.Collection(graph, path))) == rdflib.URIRef("http://example.org/p")


def test_messages_are_the_shapes_own(store: Store) -> None:
    shapes = load(store, "ex:a a ex:T .", """
        ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:property [ sh:path ex:p ; sh:minCount 1 ;
            sh:message "needs a p"@en, "braucht ein p"@de ] .""")
    graph, report = report_graph(store, shapes)
    messages = {str(m) for r in graph.objects(report, SH.result) for m in graph.objects(r, SH.resultMessage)}
    import pyshacl

    _, reference, _ = pyshacl.validate(export_graph(store), shacl_graph=shapes.graph, inference="none")
    assert messages == {str(m) for m in reference.objects(None, SH.resultMessage)} == {"needs a p", "braucht ein p"}


def test_details_are_not_results() -> None:
    """A report's sh:detail results (why a nested shape failed) are not counted as results of their own."""
    report = rdflib.Graph().parse(data=PREFIXES + """
        [ a sh:ValidationReport ; sh:conforms false ; sh:result [ a sh:ValidationResult ; sh:focusNode ex:a ;
            sh:resultSeverity sh:Violation ; sh:sourceShape ex:S ; sh:sourceConstraintComponent
            sh:NodeConstraintComponent ; sh:value ex:b ;
            sh:detail [ a sh:ValidationResult ; sh:focusNode ex:b ; sh:resultSeverity sh:Violation ;
                sh:sourceShape ex:T ; sh:sourceConstraintComponent sh:MinCountConstraintComponent ] ] ] .""",
                                        format="turtle")
    assert [r.focus for r in read_report(report)] == ["http://example.org/a"]


def test_delegation_is_named_and_keeps_only_its_own_results(store: Store) -> None:
    """A delegated shape's nested shape with a target of its own is validated once, by the compiler."""
    shapes = load(store, "ex:a a ex:T ; ex:p ex:b . ex:b a ex:T .", """
        ex:Inner a sh:NodeShape ; sh:targetClass ex:T ; sh:class ex:U .
        ex:Outer a sh:NodeShape ; sh:targetClass ex:T ; sh:xone ( ex:Inner [ sh:class ex:T ] ) .""")
    report = validate(store, shapes)
    assert list(report.fallback) == ["http://example.org/Outer"] and "xone" in report.fallback[
        "http://example.org/Outer"]
    assert multiset(report.results) == multiset(pyshacl_results(export_graph(store), shapes.graph))


def test_store_rewritten_literals_are_delegated_not_misjudged(store: Store) -> None:
    """The store reads "4.0"^^xsd:decimal as "4": a shape naming such a literal as a term is delegated."""
    shapes = load(store, "ex:a ex:p 1 .", """
        ex:S a sh:NodeShape ; sh:targetNode "4.0"^^xsd:decimal ; sh:maxExclusive 4 .""")
    report = validate(store, shapes)
    assert "rewrite" in report.fallback["http://example.org/S"]
    assert [r.focus for r in report.results] == ['"4.0"^^<http://www.w3.org/2001/XMLSchema#decimal>']


def test_validate_with_own_shapes_and_store_shapes(cli, tmp_path) -> None:
    data = tmp_path / "data.ttl"
    data.write_text(PREFIXES + "ex:a a ex:T .")
    own = tmp_path / "own.ttl"
    own.write_text(PREFIXES + "ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:property [ sh:path ex:p ; "
                   "sh:minCount 1 ] .")
    assert cli("load", str(data))[0] == 0
    code, out, _ = cli("validate", "--shapes", str(own), "--no-default-shapes", "--format", "turtle")
    graph = rdflib.Graph().parse(data=out, format="turtle")
    assert code == 1 and {str(f) for f in graph.objects(None, SH.focusNode)} == {"http://example.org/a"}
    assert cli("validate", "--no-default-shapes", "--format", "json")[0] == 0  # no shapes at all: nothing to say
    assert cli("validate", "--shapes", str(tmp_path / "missing.ttl"))[0] != 0  # a CliError (exit 2 via main())
    with pytest.raises(ValueError, match=r"missing\.ttl: no such shapes file"):
        Shapes.load([tmp_path / "missing.ttl"])
    (tmp_path / "bad.ttl").write_text("ex:a ex:b")
    with pytest.raises(ValueError, match=r"bad\.ttl: cannot parse shapes"):
        Shapes.load([tmp_path / "bad.ttl"])
    # shapes kept in the store are used by every later validation
    assert cli("load", "--graph", "https://w3id.org/expgraph/graph/shapes/mine", str(own))[0] == 0
    code, out, _ = cli("validate", "--format", "turtle")
    graph = rdflib.Graph().parse(data=out, format="turtle")
    assert code == 1 and "http://example.org/a" in {str(f) for f in graph.objects(None, SH.focusNode)}


def test_import_validation_checks_only_the_new_graph_against_the_whole_catalog(store: Store) -> None:
    """The focus nodes one graph mentions, each judged on all the data: links into other graphs resolve."""
    shapes = load(store, "ex:e a ex:Experiment . ex:r0 a ex:Run .", """
        ex:S a sh:NodeShape ; sh:targetClass ex:Run ; sh:property [ sh:path ex:in ; sh:class ex:Experiment ;
            sh:minCount 1 ] .""")
    new = NamedNode("urn:test:new")
    store.replace_graph(new, [q.triple for q in pyoxigraph.parse(PREFIXES + """
        ex:r1 a ex:Run ; ex:in ex:e . ex:r2 a ex:Run ; ex:in ex:nothing . ex:r3 a ex:Run .""",
                                                                   pyoxigraph.RdfFormat.TURTLE)])
    scoped = validate(store, shapes, focus_graph=new).results
    whole = validate(store, shapes).results
    assert {r.focus for r in whole} == {"http://example.org/r0", "http://example.org/r2", "http://example.org/r3"}
    assert multiset(scoped) == multiset([r for r in whole if r.focus != "http://example.org/r0"])
