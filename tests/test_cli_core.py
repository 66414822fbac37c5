"""The core commands end to end: load, export, sparql, stats, and how errors reach the user."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pyoxigraph
import pytest
from pyoxigraph import Literal, NamedNode, Quad, RdfFormat, Triple

from expgraph import __version__
from loopback import free_port

EX = "https://example.org/"
TURTLE = f"""@prefix ex: <{EX}> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:a rdfs:label "alpha" ; ex:next ex:b .
ex:b rdfs:label "beta"@en .
"""
LABEL = NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
TRIPLES = {
    Triple(NamedNode(EX + "a"), LABEL, Literal("alpha")),
    Triple(NamedNode(EX + "a"), NamedNode(EX + "next"), NamedNode(EX + "b")),
    Triple(NamedNode(EX + "b"), LABEL, Literal("beta", language="en")),
}
#: The same three triples in each format ``load`` reads.
SOURCES = {
    "data.ttl": TURTLE,
    "data.nt": "".join(f"{t} .\n" for t in TRIPLES),
    "data.nq": "".join(f"{t} <{EX}elsewhere> .\n" for t in TRIPLES),
    "data.jsonld": json.dumps({
        "@context": {"ex": EX, "label": "http://www.w3.org/2000/01/rdf-schema#label",
                     "next": {"@id": f"{EX}next", "@type": "@id"}},
        "@graph": [{"@id": "ex:a", "label": "alpha", "next": "ex:b"},
                   {"@id": "ex:b", "label": {"@value": "beta", "@language": "en"}}],
    }),
}
LABELS = ("SELECT ?s ?label WHERE { ?s rdfs:label ?label FILTER(STRSTARTS(STR(?s), 'https://example.org/')) } "
          "ORDER BY ?s")


def expgraph(*args: str) -> subprocess.CompletedProcess[str]:
    """The real entry point in a child process (the ``cli`` fixture has set the store and working directory)."""
    return subprocess.run([sys.executable, "-c", "from expgraph.cli import main; main()", *args],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "80"}, timeout=60)


def file_graphs(cli) -> list[dict]:
    code, out, _ = cli("stats", "--format", "json")
    assert code == 0
    return [g for g in json.loads(out)["graphs"] if "/graph/file/" in g["graph"]]


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_load_each_format(cli, tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text(SOURCES[name], encoding="utf-8")
    code, _, err = cli("load", name)
    assert code == 0, err
    assert "3 triples loaded" in err
    code, out, _ = cli("sparql", LABELS, "--format", "json")
    bindings = json.loads(out)["results"]["bindings"]
    assert [(row["s"]["value"], row["label"]["value"]) for row in bindings] == [(EX + "a", "alpha"), (EX + "b", "beta")]
    assert [g["triples"] for g in file_graphs(cli)] == [3]
    code, _, err = cli("load", name)
    assert code == 0 and "3 triples unchanged" in err


def test_a_reload_replaces_the_file_graph(cli, tmp_path: Path) -> None:
    (tmp_path / "data.ttl").write_text(TURTLE, encoding="utf-8")
    cli("load", "data.ttl")
    (tmp_path / "data.ttl").write_text(TURTLE.replace('"alpha" ;', '"gamma" ;'), encoding="utf-8")
    code, out, _ = cli("load", "data.ttl", "--format", "json")
    assert code == 0 and json.loads(out)[0]["changed"] is True
    code, out, _ = cli("sparql", LABELS, "--format", "csv")
    assert out.splitlines() == ["s,label", f"{EX}a,gamma", f"{EX}b,beta"]
    assert len(file_graphs(cli)) == 1


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_load_refuses_a_remote_context_and_writes_nothing(cli, tmp_path: Path) -> None:
    path = tmp_path / "remote.jsonld"
    path.write_text(json.dumps({"@context": "https://schema.org/", "@id": f"{EX}x", "name": "x"}))
    line = one_error_line(expgraph("load", "remote.jsonld"))
    assert "remote.jsonld" in line and "remote @context" in line
    assert file_graphs(cli) == []


def test_a_turtle_syntax_error_names_the_file_and_line(cli, tmp_path: Path) -> None:
    (tmp_path / "broken.ttl").write_text(TURTLE + 'ex:c rdfs:label "unterminated .\nex:d ex:e ex:f .\n')
    line = one_error_line(expgraph("load", "broken.ttl"))
    assert "broken.ttl" in line and "line 5" in line
    assert file_graphs(cli) == []


@pytest.mark.parametrize("fmt", ["nquads", "turtle", "jsonld"])
def test_export(cli, tmp_path: Path, fmt: str) -> None:
    (tmp_path / "data.ttl").write_text(TURTLE, encoding="utf-8")
    cli("load", "data.ttl")
    code, _, err = cli("export", "--format", fmt, "--output", "catalog.out")
    assert code == 0, err
    statements = int(err.split()[0])
    rdf_format = {"nquads": RdfFormat.N_QUADS, "turtle": RdfFormat.TURTLE, "jsonld": RdfFormat.JSON_LD}[fmt]
    parsed = list(pyoxigraph.parse((tmp_path / "catalog.out").read_bytes(), rdf_format))
    assert len(parsed) == statements > 1000  # the ontology and vocabularies come along
    assert not (tmp_path / "catalog.out.part").exists()
    if fmt == "nquads":
        graph = NamedNode(file_graphs(cli)[0]["graph"])
        assert {Quad(t.subject, t.predicate, t.object, graph) for t in TRIPLES} <= set(parsed)
    else:
        assert {quad.triple for quad in parsed} >= TRIPLES


def test_sparql_formats_and_query_files(cli, tmp_path: Path) -> None:
    (tmp_path / "data.ttl").write_text(TURTLE, encoding="utf-8")
    cli("load", "data.ttl")
    code, out, err = cli("sparql", LABELS)
    assert code == 0 and "alpha" in out and "beta" in out and "2 rows" in err
    code, out, _ = cli("sparql", LABELS, "--format", "csv")
    assert out.splitlines() == ["s,label", f"{EX}a,alpha", f"{EX}b,beta"]
    (tmp_path / "labels.rq").write_text(LABELS, encoding="utf-8")
    code, out, _ = cli("sparql", "@labels.rq", "--format", "json")
    assert code == 0 and len(json.loads(out)["results"]["bindings"]) == 2
    code, out, _ = cli("sparql", "ASK { <https://example.org/a> rdfs:label 'alpha' }", "--format", "json")
    assert json.loads(out)["boolean"] is True


def test_values_that_look_like_rich_markup_print_as_they_are(cli) -> None:
    code, out, err = cli("sparql", "SELECT ?v WHERE { VALUES ?v { '[bold]x[/bold]' '[/]' } }")
    assert code == 0, err
    assert "[bold]x[/bold]" in out and "[/]" in out


def test_a_malformed_query_is_one_line_with_the_user_s_position(cli) -> None:
    line = one_error_line(expgraph("sparql", "SELECT * WHERE {\n  ?s ?p }"))
    assert line.startswith("error: malformed query") and "line 2" in line  # the endpoint's words


def test_stats_json(cli, tmp_path: Path) -> None:
    (tmp_path / "data.ttl").write_text(TURTLE, encoding="utf-8")
    cli("load", "data.ttl")
    code, out, _ = cli("stats", "--format", "json")
    stats = json.loads(out)
    assert code == 0 and set(stats) == {"store", "counts", "graphs"}
    assert stats["store"].endswith("cli-store")
    assert any("/ontology/" in g["graph"] for g in stats["graphs"])
    assert [g["triples"] for g in stats["graphs"] if "/graph/file/" in g["graph"]] == [3]


def test_version() -> None:
    result = expgraph("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"expgraph {__version__}"


def test_errors_have_no_traceback_unless_debug(cli) -> None:
    line = one_error_line(expgraph("sparql", "@missing[/x].rq"))  # not rich markup either
    assert "missing[/x].rq" in line and "Traceback" not in line
    debug = expgraph("--debug", "sparql", "@missing.rq")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_the_same_commands_on_a_remote_store(cli, oxigraph_server: str, tmp_path: Path) -> None:
    httpx.post(f"{oxigraph_server}/update", data={"update": "DROP ALL"}).raise_for_status()
    (tmp_path / "data.ttl").write_text(TURTLE, encoding="utf-8")
    assert "3 triples loaded" in expgraph("--endpoint", oxigraph_server, "load", "data.ttl").stderr
    _, stdout, _ = cli("--endpoint", oxigraph_server, "sparql", LABELS, "--format", "csv")  # in-process: no start-up
    assert stdout.splitlines() == ["s,label", f"{EX}a,alpha", f"{EX}b,beta"]
    stats = json.loads(cli("--endpoint", oxigraph_server, "stats", "--format", "json")[1])
    assert stats["store"] == oxigraph_server and any("/graph/file/" in g["graph"] for g in stats["graphs"])
    line = one_error_line(expgraph("--endpoint", oxigraph_server, "sparql", "SELECT * WHERE { ?s ?p }"))
    assert "malformed query" in line


def test_an_unreachable_endpoint_is_one_line(cli) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    line = one_error_line(expgraph("--endpoint", url, "stats"))
    assert f"{url}/query" in line and "cannot reach" in line


def test_the_real_entry_point_exits_with_the_command_s_code(cli, tmp_path: Path) -> None:
    (tmp_path / "bad.ttl").write_text("<https://example.org/r> a <https://w3id.org/expgraph#Run> .\n",
                                      encoding="utf-8")
    assert cli("load", "bad.ttl")[0] == 0
    gate = expgraph("validate", "--format", "json")
    assert gate.returncode == 1, gate.stderr  # a run with no status, experiment or start time: a CI gate fails
    assert expgraph("stats").returncode == 0
