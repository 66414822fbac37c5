"""Commands that move RDF in and out: ``load``, ``export``, ``sparql``, ``stats``."""

from __future__ import annotations

import re
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pyoxigraph import NamedNode
from rich.markup import escape

from expgraph.catalog import LoadError, load_file
from expgraph.cli.common import CliError, err, print_json, print_result, print_table, state
from expgraph.namespaces import sparql_prologue
from expgraph.sparql.formats import rename_result
from expgraph.sparql.guard import QueryRefused, check_query, explain_syntax_error


class ResultFormat(StrEnum):
    table = "table"
    json = "json"
    xml = "xml"
    csv = "csv"
    tsv = "tsv"
    turtle = "turtle"
    ntriples = "ntriples"
    jsonld = "jsonld"


class ExportFormat(StrEnum):
    turtle = "turtle"
    nquads = "nquads"
    trig = "trig"
    ntriples = "ntriples"
    jsonld = "jsonld"


class TextFormat(StrEnum):
    text = "text"
    json = "json"


def load(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="RDF files: .ttl, .nt, .nq, .trig, .jsonld, .rdf.")],
    graph: Annotated[str | None, typer.Option(help="Named graph IRI to load into (one file only).")] = None,
    fmt: Annotated[TextFormat, typer.Option("--format", help="Summary format.")] = TextFormat.text,
) -> None:
    """Bring in RDF from elsewhere (a project's own vocabulary, an ontology, another catalog).

    Each file lives in its own named graph and a re-load replaces it. Nothing is fetched from the network:
    JSON-LD with a remote @context is refused. RDF/XML may declare plain DTD entities (namespace shorthands);
    nested, parameter or external entities, or references expanding beyond 1 MiB, are refused.
    """
    if graph and len(files) > 1:
        raise CliError("--graph takes one file at a time")
    store = state(ctx).store(create=True)
    summary = []
    for path in files:
        try:
            name, count, changed = load_file(store, path, NamedNode(graph) if graph else None)
        except LoadError as error:
            if not summary:  # a store made for nothing goes (files loaded before this one stay)
                state(ctx).discard_new_store()
            raise CliError(str(error)) from None
        summary.append({"file": str(path), "graph": name.value, "triples": count, "changed": changed})
        if fmt is TextFormat.text:
            note = "loaded" if changed else "unchanged"
            err.print(escape(f"{path}: {count} triples {note} into <{name.value}>"), highlight=False)
    if fmt is TextFormat.json:
        print_json(summary)


def export(
    ctx: typer.Context,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="RDF format.")] = ExportFormat.turtle,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
) -> None:
    """Write the whole catalog as RDF (N-Quads and TriG keep each import source's graph)."""
    store = state(ctx).store()
    if output is None:
        count = store.dump(sys.stdout.buffer, fmt.value)
    else:
        tmp = output.with_name(output.name + ".part")
        with tmp.open("wb") as stream:
            count = store.dump(stream, fmt.value)
        tmp.replace(output)
    err.print(f"{count} statements exported", highlight=False)


def sparql(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="A SPARQL query, or @file.rq to read it from a file, or - for stdin.")],
    fmt: Annotated[ResultFormat, typer.Option("--format", help="table for people; json/xml/csv/tsv are the "
                                              "SPARQL 1.1 results formats; turtle/ntriples/jsonld for graphs.")]
    = ResultFormat.table,
    prefixes: Annotated[bool, typer.Option(help="Prepend the standard prefixes (eg:, prov:, mls:, ...).")] = True,
) -> None:
    """Run a SPARQL query over the catalog (the active graphs form the default graph).

    Example: expgraph sparql 'SELECT ?run ?mode WHERE { ?r prov:wasGeneratedBy ?run ; eg:failureMode ?mode }'
    """
    if query == "-":
        query = sys.stdin.read()
    elif query.startswith("@"):
        path = Path(query[1:])
        try:
            query = path.read_text(encoding="utf-8")
        except OSError as error:
            raise CliError(f"{path}: {error.strerror}") from None
    prologue = sparql_prologue() if prefixes else ""
    lines = prologue.count(chr(10))
    try:  # the same guard as the endpoint: the same refusals and wording, and the checked text is what runs
        checked = check_query(prologue + query)
        store = state(ctx).store()  # graphs by their logical names, as the endpoint does
        result = rename_result(store.query(store.scoped(checked.text)), store.version_names())
    except QueryRefused as refused:
        raise CliError(_shift_lines(str(refused), lines)) from None
    except SyntaxError as error:
        raise CliError(_shift_lines(explain_syntax_error(checked, str(error)), lines)) from None
    print_result(result, fmt.value)


def _shift_lines(message: str, lines: int) -> str:
    """Positions in a parser message as the user counts them, without the prefix lines we put before the query."""
    def shift(match: re.Match[str]) -> str:
        line = int(match[1]) - lines
        return f"line {line}, column {match[2]}" if line > 0 else match[0]

    return " ".join(_POSITION.sub(shift, message).split())


_POSITION = re.compile(r"\bline (\d+), column (\d+)\b")


STATS_QUERY = """
SELECT ?what (COUNT(DISTINCT ?thing) AS ?count) WHERE {
  VALUES (?type ?what) {
    (eg:Project "projects") (eg:Experiment "experiments") (eg:Run "runs") (dcat:Dataset "dataset snapshots")
    (eg:Result "results") (eg:NegativeResult "negative results") (prov:Agent "agents")
  }
  ?thing a ?type .
} GROUP BY ?what ORDER BY ?what
"""


def stats(
    ctx: typer.Context,
    fmt: Annotated[TextFormat, typer.Option("--format", help="Output format.")] = TextFormat.text,
) -> None:
    """Count what the catalog holds, and list its graphs."""
    store = state(ctx).store()
    counts = {row["what"].value: int(row["count"].value) for row in store.select(sparql_prologue() + STATS_QUERY)}
    graphs = [
        {"graph": name, "triples": info.triples, "modified": info.modified}
        for name, info in sorted(store.active_graphs().items())
    ]
    if fmt is TextFormat.json:
        print_json({"store": store.location, "counts": counts, "graphs": graphs})
        return
    print_table(["what", "count"], sorted(counts.items()))
    print_table(["graph", "triples", "modified"], ([g["graph"], g["triples"], g["modified"]] for g in graphs))


def register(app: typer.Typer) -> None:
    for command in (load, export, sparql, stats):
        app.command()(command)
