"""Run the W3C SHACL Core test suite through expgraph (or pySHACL, for the reference count).

The suite lives in the w3c/data-shapes repository (``data-shapes-test-suite/tests/core``); this script does not
ship it. Each test's data graph is loaded into a fresh store with ``expgraph load`` and validated with
``expgraph validate --shapes FILE --no-default-shapes --format turtle``; the Turtle report is compared with the
expected one:

- ``sh:conforms`` must agree;
- the results must agree as a multiset of (focus node, result path, value, source shape, source constraint
  component, severity). Blank nodes compare as "some blank node" (their labels differ between graphs), except
  result paths, which compare by their SHACL path structure.

A test whose expected result is ``sht:Failure`` (an ill-formed shapes graph) passes when validation stops with an
error message instead of a report.

    python scripts/w3c_shacl_suite.py /tmp/data-shapes/data-shapes-test-suite/tests/core
    python scripts/w3c_shacl_suite.py SUITE --engine pyshacl      # the reference count
    python scripts/w3c_shacl_suite.py SUITE --only node/class-003 -v
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import rdflib
from rdflib import RDF, BNode, Graph, Literal, Namespace
from rdflib.collection import Collection

MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
SHT = Namespace("http://www.w3.org/ns/shacl-test#")
SH = Namespace("http://www.w3.org/ns/shacl#")


@dataclass
class Case:
    name: str
    data: Path
    shapes: Path
    expected: Graph
    result: rdflib.term.Node  # the expected report node, or sht:Failure


def cases(manifest: Path) -> list[Case]:
    """Every test of a manifest and the manifests it includes."""
    graph = Graph().parse(manifest, format="turtle")
    found = []
    for included in graph.objects(None, MF.include):
        found += cases(Path(str(included).removeprefix("file://")))
    for entries in graph.objects(None, MF.entries):
        for entry in Collection(graph, entries):
            action = graph.value(entry, MF.action)
            local = Path(str(entry).removeprefix("file://"))
            found.append(Case(
                name=f"{local.parent.name}/{local.name}",
                data=Path(str(graph.value(action, SHT.dataGraph)).removeprefix("file://")),
                shapes=Path(str(graph.value(action, SHT.shapesGraph)).removeprefix("file://")),
                expected=graph, result=graph.value(entry, MF.result)))
    return found


def path_text(graph: Graph, node: rdflib.term.Node) -> str:
    """A result path as text that does not depend on blank-node labels."""
    if not isinstance(node, BNode):
        return node.n3()
    if graph.value(node, RDF.first) is not None:
        return "(" + " / ".join(path_text(graph, p) for p in Collection(graph, node)) + ")"
    for predicate in (SH.inversePath, SH.zeroOrMorePath, SH.oneOrMorePath, SH.zeroOrOnePath):
        inner = graph.value(node, predicate)
        if inner is not None:
            return f"{predicate.split('#')[1]}({path_text(graph, inner)})"
    alternatives = graph.value(node, SH.alternativePath)
    if alternatives is not None:
        return "alt(" + " | ".join(path_text(graph, p) for p in Collection(graph, alternatives)) + ")"
    return "_:?"


def term_text(node: rdflib.term.Node | None) -> str:
    if node is None:
        return "-"
    if isinstance(node, BNode):
        return "_:"
    if isinstance(node, Literal):
        return node.n3()  # the lexical form matters: "4.0"^^xsd:decimal is not "4"^^xsd:decimal in a report
    return node.n3()


def summary(graph: Graph, report: rdflib.term.Node) -> tuple[bool, Counter]:
    conforms = graph.value(report, SH.conforms)
    results = Counter()
    for result in graph.objects(report, SH.result):
        path = graph.value(result, SH.resultPath)
        results[(term_text(graph.value(result, SH.focusNode)),
                 "-" if path is None else path_text(graph, path),
                 term_text(graph.value(result, SH.value)),
                 term_text(graph.value(result, SH.sourceShape)),
                 term_text(graph.value(result, SH.sourceConstraintComponent)),
                 term_text(graph.value(result, SH.resultSeverity)))] += 1
    return conforms is not None and conforms.toPython() is True, results


def run_expgraph(case: Case, python: str) -> tuple[int, str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        base = [str(Path(python).with_name("expgraph")), "--store", f"{tmp}/store"]
        loaded = subprocess.run([*base, "load", str(case.data)], capture_output=True, text=True, timeout=600)
        if loaded.returncode != 0:
            return loaded.returncode, "", loaded.stderr
        done = subprocess.run([*base, "validate", "--shapes", str(case.shapes), "--no-default-shapes",
                               "--format", "turtle", "--fail-on", "info"], capture_output=True, text=True,
                              timeout=600)
        return done.returncode, done.stdout, done.stderr


def run_pyshacl(case: Case) -> tuple[int, str, str]:
    import pyshacl

    try:
        data = Graph().parse(case.data, format="turtle")
        shapes = Graph().parse(case.shapes, format="turtle")
        # (allow_warnings would make pySHACL say sh:conforms true with warnings, against the spec)
        conforms, report, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none")
    except Exception as error:  # pySHACL reports ill-formed shapes with several exception types
        return 2, "", f"{type(error).__name__}: {error}"
    return (0 if conforms else 1), report.serialize(format="turtle"), ""


def check(case: Case, engine: str, python: str) -> tuple[bool, str]:
    code, out, err = run_expgraph(case, python) if engine == "expgraph" else run_pyshacl(case)
    if case.result == SHT.Failure:
        return code not in (0, 1), f"expected a failure, got exit {code}"
    if code not in (0, 1):
        return False, f"exit {code}: {err.strip().splitlines()[-1] if err.strip() else ''}"
    try:
        got = Graph().parse(data=out, format="turtle")
    except Exception as error:  # an unreadable report is a failure of the test, named
        return False, f"unreadable report: {error}"
    report = next(got.subjects(RDF.type, SH.ValidationReport), None)
    if report is None:
        return False, "no sh:ValidationReport in the output"
    want = summary(case.expected, case.result)
    have = summary(got, report)
    if want == have:
        return True, ""
    lines = [f"conforms expected {want[0]}, got {have[0]}"] if want[0] != have[0] else []
    lines += [f"  missing {k} x{n}" for k, n in (want[1] - have[1]).items()]
    lines += [f"  extra   {k} x{n}" for k, n in (have[1] - want[1]).items()]
    return False, "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", type=Path, help="the tests/core folder of w3c/data-shapes' test suite")
    parser.add_argument("--engine", choices=["expgraph", "pyshacl"], default="expgraph")
    parser.add_argument("--only", action="append", help="run only tests whose name contains this (repeatable)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("-v", "--verbose", action="store_true", help="show the differences of failed tests")
    args = parser.parse_args()
    todo = [c for c in cases(args.suite.resolve() / "manifest.ttl")
            if not args.only or any(o in c.name for o in args.only)]
    with ThreadPoolExecutor(args.jobs) as pool:
        outcomes = list(pool.map(lambda c: check(c, args.engine, sys.executable), todo))
    passed = 0
    for case, (ok, why) in zip(todo, outcomes, strict=True):
        passed += ok
        if not ok:
            print(f"FAIL {case.name}" + (f"\n{why}" if args.verbose else f": {why.splitlines()[0]}"))
    print(f"{args.engine}: {passed}/{len(todo)} passed")
    sys.exit(0 if passed == len(todo) else 1)


if __name__ == "__main__":
    main()
