"""``expgraph query``: list the saved queries, or run one with typed parameters."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from expgraph.cli.common import CliError, print_json, print_result, print_table, state
from expgraph.sparql.saved import SavedQueryError, get_query, load_queries, run_saved


class QueryFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    tsv = "tsv"


def query(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="The saved query to run (see --list).")] = None,
    params: Annotated[list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE (repeat).")] = None,
    list_queries: Annotated[bool, typer.Option("--list", help="List the saved queries instead.")] = False,
    fmt: Annotated[QueryFormat, typer.Option("--format", help="Output format (json = SPARQL 1.1 JSON results; "
                                             "with --list, the library as JSON).")] = QueryFormat.table,
) -> None:
    """Run a saved query from queries/*.rq; parameters are type-checked and bound as RDF terms."""
    if list_queries:
        library = load_queries()
        if fmt is QueryFormat.json:
            print_json([q.as_dict() for q in library.values()])
        else:
            print_table(["name", "title", "parameters"],
                        ([q.name, q.title, ", ".join(f"{p.name}:{p.type}" for p in q.parameters)]
                         for q in library.values()))
        return
    if not name:
        raise CliError("give a query name, or --list to see them")
    raw: dict[str, str] = {}
    for item in params or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--param {item!r}: expected KEY=VALUE")
        raw[key] = value
    try:
        result = run_saved(state(ctx).store(), get_query(name), raw)
    except SavedQueryError as error:
        raise CliError(str(error)) from None
    print_result(result, fmt.value)


def register(app: typer.Typer) -> None:
    app.command()(query)
