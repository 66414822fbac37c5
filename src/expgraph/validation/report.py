"""Validation reports: one plain dict (the data twin) rendered as text, JSON, a SHACL Turtle report or HTML.

The text report answers what a curator asks first: what is missing most, which project is worst, which records
to fix first. The Turtle report is a standard ``sh:ValidationReport`` any SHACL tool can read.
"""

from __future__ import annotations

import heapq
import io
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pyoxigraph
import rdflib
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pyoxigraph import BlankNode, Literal, NamedNode, RdfFormat, Triple
from rdflib.namespace import SH as SH_
from rich.console import Console
from rich.table import Table

from expgraph.namespaces import PREFIXES, RDF, SH, XSD
from expgraph.validation.engine import RANK, ValidationReport, ValidationResult, ntriples, severity_name
from expgraph.validation.scores import Scores
from expgraph.validation.shapes_graph import path_key

TOP = 20


def _short(iri: str) -> str:
    for prefix, base in PREFIXES.items():
        if iri.startswith(base):
            return f"{prefix}:{iri[len(base):]}"
    return iri


def report_data(report: ValidationReport, scores: Scores, *, fail_on: str = "violation", results: bool = True
                ) -> dict[str, Any]:
    """Everything any format shows, as plain data; without ``results`` (the text report), the summaries only: one
    row per result is most of the work on a large catalog."""
    describe = report.shapes.describe
    # A catalog's results repeat a few shapes, severities and project sets many times: each is worked out once.
    names = {s: severity_name(s) for s in {r.severity for r in report.results}}
    projects_of: dict[str, list[str]] = {}
    per_project: dict[str, Counter] = defaultdict(Counter)
    by_focus: dict[str, Counter] = defaultdict(Counter)
    shapes_by_focus: dict[str, set[str]] = defaultdict(set)
    for r in report.results:
        projects = projects_of.get(r.focus)
        if projects is None:
            projects = projects_of[r.focus] = sorted(
                scores.project_names.get(p, p) for p in scores.project_of.get(r.focus, ()))
        severity = names[r.severity]
        for project in projects or ["(no project)"]:
            per_project[project][severity] += 1
        by_focus[r.focus][severity] += 1
        if severity != "info":
            shapes_by_focus[r.focus].add(r.shape)
    missing = Counter((r.shape, r.component, r.severity) for r in report.results)
    overall = scores.overall()
    projects = []
    for iri, tally in scores.projects.items():
        name = scores.project_names.get(iri, iri)
        projects.append({"project": iri, "name": name, "score": tally.score, "met": tally.met,
                         "applicable": tally.applicable, **{s: per_project[name][s] for s in ("violation",
                                                                                                 "warning", "info")}})
    projects.sort(key=lambda p: (p["score"] if p["score"] is not None else 2.0, p["name"]))
    worst = heapq.nsmallest(TOP, by_focus, key=lambda f: (-by_focus[f]["violation"], _score_or(scores, f),
                                                          -by_focus[f]["warning"], f))
    data = {
        "conforms": report.conforms(fail_on),
        "fail_on": fail_on,
        "counts": report.counts(),
        "completeness": overall.score,
        "seconds": round(report.seconds, 3),
        "fallback": report.fallback,
        "fallback_engine": report.fallback_engine,
        "missing_most": [
            {"shape": shape, "shape_name": describe(shape).name, "component": _short(component),
             "severity": severity_name(severity), "count": count, "message": describe(shape).message}
            for (shape, component, severity), count in sorted(
                missing.items(), key=lambda item: (-RANK.get(item[0][2], 3), -item[1], item[0][0]))
        ],
        "projects": projects,
        "worst": [{"focus": f, "score": scores.nodes[f].score if f in scores.nodes else None,
                   "violations": by_focus[f]["violation"], "warnings": by_focus[f]["warning"],
                   "missing": sorted({describe(shape).name for shape in shapes_by_focus[f]})} for f in worst],
    }
    if results:
        shorts = {c: _short(c) for c in {r.component for r in report.results}}
        data["results"] = [{
            "focus": r.focus, "path": r.path, "severity": names[r.severity],
            "component": shorts[r.component], "shape": r.shape, "shape_name": describe(r.shape).name,
            "message": describe(r.shape).message, "group": describe(r.shape).group, "value": r.value,
            "projects": projects_of[r.focus],
        } for r in sorted(report.results, key=lambda r: (-RANK.get(r.severity, 3), r.focus, r.shape, r.component))]
    return data


def _score_or(scores: Scores, node: str) -> float:
    tally = scores.nodes.get(node)
    return tally.score if tally is not None and tally.score is not None else 1.0


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def render_text(data: dict[str, Any], width: int = 140) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, highlight=False, soft_wrap=False)
    counts = data["counts"]
    verdict = "PASS" if data["conforms"] else "FAIL"
    console.print(f"{verdict} (fail on {data['fail_on']}): {counts['violation']} violations, {counts['warning']} "
                  f"warnings, {counts['info']} infos; completeness {_pct(data['completeness'])}; "
                  f"{data['seconds']} s")
    for shape, reason in data["fallback"].items():
        console.print(f"validated with {data['fallback_engine']} (not compiled: {reason}): {shape}")
    table = Table("severity", "what is missing", "count", "message", title="What is missing most")
    for row in data["missing_most"][:TOP]:
        table.add_row(row["severity"], row["shape_name"], str(row["count"]), row["message"])
    console.print(table)
    if data["projects"]:
        table = Table("project", "completeness", "violations", "warnings", "infos", title="Per project, worst first")
        for row in data["projects"]:
            table.add_row(row["name"], _pct(row["score"]), str(row["violation"]), str(row["warning"]),
                          str(row["info"]))
        console.print(table)
    if data["worst"]:
        table = Table("record", "completeness", "violations", "warnings", "missing", title="Records to fix first")
        for row in data["worst"]:
            table.add_row(row["focus"], _pct(row["score"]), str(row["violations"]), str(row["warnings"]),
                          ", ".join(row["missing"]))
        console.print(table)
    return buffer.getvalue()


def render_json(data: dict[str, Any]) -> str:
    """Indented, one result a line: json's indenting encoder is pure Python, several times slower than the compact
    one on the many results of a large catalog."""
    rows = data.get("results")
    if not rows:
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    head = json.dumps({key: value for key, value in data.items() if key != "results"}, indent=2, ensure_ascii=False)
    compact = json.JSONEncoder(ensure_ascii=False).encode
    body = ",\n    ".join(compact(row) for row in rows)
    return f'{head[:-2]},\n  "results": [\n    {body}\n  ]\n}}\n'


def _term(text: str) -> NamedNode | BlankNode | Literal:
    """A result's node (an IRI, or a blank node or literal in N-Triples syntax) as a term."""
    if not text.startswith(('"', "_:", "<")):
        return NamedNode(text)
    return next(pyoxigraph.parse(f"<urn:s> <urn:p> {text} .", RdfFormat.N_TRIPLES)).object


def _rdf(node: rdflib.term.Node, bnodes: dict[rdflib.term.Node, BlankNode]) -> NamedNode | BlankNode | Literal:
    if isinstance(node, rdflib.BNode):
        return bnodes.setdefault(node, BlankNode())
    return _term(ntriples(node) if isinstance(node, rdflib.Literal) else str(node))


def _described(graph: rdflib.Graph, node: rdflib.term.Node, bnodes: dict[rdflib.term.Node, BlankNode]
               ) -> list[Triple]:
    """The triples describing a blank node of the shapes graph (a path, a shape), followed through blank nodes."""
    triples, todo, seen = [], [node], set()
    while todo:
        subject = todo.pop()
        if not isinstance(subject, rdflib.BNode) or subject in seen:
            continue
        seen.add(subject)
        for predicate, obj in graph.predicate_objects(subject):
            triples.append(Triple(_rdf(subject, bnodes), _rdf(predicate, bnodes), _rdf(obj, bnodes)))
            todo.append(obj)
    return triples


def _messages(report: ValidationReport, r: ValidationResult) -> list[Literal]:
    """The shape's sh:message texts, or one saying which constraint failed when the shape has none."""
    shape = report.shapes.node(r.shape)
    texts = [_rdf(m, {}) for m in report.shapes.graph.objects(shape, SH_.message)]
    if texts:
        return texts
    what = _short(r.component).removeprefix("sh:").removesuffix("ConstraintComponent")
    about = f" (value {r.value})" if r.value is not None else ""
    return [Literal(f"{what} constraint not met{about}")]


def report_triples(report: ValidationReport) -> list[Triple]:
    """A standard SHACL validation report (``sh:conforms`` false when there is any result, as the spec says).

    Every result has its focus node, path (complex paths as their SHACL structure), value, source shape (a blank
    one with its description), constraint component, severity and message, whatever engine found it.
    """
    root = BlankNode()
    triples = [
        Triple(root, RDF.type, SH.ValidationReport),
        Triple(root, SH.conforms, Literal("false" if report.results else "true", datatype=XSD.boolean)),
    ]
    graph = report.shapes.graph
    bnodes: dict[rdflib.term.Node, BlankNode] = {}
    described: set[rdflib.term.Node] = set()
    for r in report.results:
        node = BlankNode()
        shape = report.shapes.node(r.shape)
        triples += [
            Triple(root, SH.result, node),
            Triple(node, RDF.type, SH.ValidationResult),
            Triple(node, SH.focusNode, _term(r.focus)),
            Triple(node, SH.resultSeverity, NamedNode(r.severity)),
            Triple(node, SH.sourceConstraintComponent, NamedNode(r.component)),
            Triple(node, SH.sourceShape, _rdf(shape, bnodes)),
        ]
        triples += [Triple(node, SH.resultMessage, message) for message in _messages(report, r)]
        if r.path is not None:
            path = graph.value(shape, SH_.path)
            if path is not None and path_key(graph, path) == r.path:
                triples.append(Triple(node, SH.resultPath, _rdf(path, bnodes)))
                if isinstance(path, rdflib.BNode) and path not in described:
                    described.add(path)
                    triples += _described(graph, path, bnodes)
            elif r.path.startswith("<") and r.path.endswith(">"):
                triples.append(Triple(node, SH.resultPath, NamedNode(r.path[1:-1])))
        if r.value is not None:
            triples.append(Triple(node, SH.value, _term(r.value)))
        if isinstance(shape, rdflib.BNode) and shape not in described:
            described.add(shape)
            triples += _described(graph, shape, bnodes)
    return triples


def render_turtle(report: ValidationReport) -> str:
    data = pyoxigraph.serialize(report_triples(report), format=RdfFormat.TURTLE,
                                prefixes={"sh": str(SH), "xsd": str(XSD)})
    return data.decode()


def render_html(data: dict[str, Any]) -> str:
    """A standalone page (inline CSS, no external assets)."""
    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                      autoescape=select_autoescape(["html"]))
    return env.get_template("report.html").render(data=data, pct=_pct, limit=2000)


def render(report: ValidationReport, scores: Scores, fmt: str, *, fail_on: str = "violation") -> str:
    if fmt == "turtle":
        return render_turtle(report)
    data = report_data(report, scores, fail_on=fail_on, results=fmt != "text")
    return {"text": render_text, "json": render_json, "html": render_html}[fmt](data)
