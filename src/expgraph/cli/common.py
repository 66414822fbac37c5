"""What every command shares: the settings, the store (opened once, lazily), output formats and errors."""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from pyoxigraph import QueryBoolean, QuerySolutions, QueryTriples, RdfFormat
from rich.console import Console
from rich.table import Table
from rich.text import Text

from expgraph.formats import GRAPH, RESULTS, by_name
from expgraph.settings import Settings
from expgraph.store import EmbeddedStore, Retention, Store, open_store

#: Human output goes to stdout; progress and messages to stderr so that pipes stay clean.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)  # one error, one line, whatever the width


class CliError(Exception):
    """An error shown as one line (exit code 2 unless given)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class State:
    settings: Settings
    debug: bool = False
    _store: Store | None = field(default=None, repr=False)
    _created: Path | None = field(default=None, repr=False)  # the store directory this command made

    def store(self, *, create: bool = False, prepare: bool = True) -> Store:
        """The catalog's store, opened on first use with the ontology and vocabularies in place.

        Only the commands that write (``create``) may make a new embedded store: a read command on a directory
        that holds no store is an error, so a typo in ``--store`` never answers from a new, empty catalog.
        Neither do they turn a directory of other files into a store.
        """
        if self._store is None:
            from expgraph.catalog import prepare as prepare_store

            location, endpoint = self.settings.store, self.settings.endpoint or None
            from expgraph.store.served import find_server  # a running expgraph server owns the store: through it

            served = find_server(location, endpoint, self.settings.token or None, self.settings.timeout)
            if served is not None:
                self._store = served
                return served
            if not endpoint and not EmbeddedStore.exists(location):
                path = Path(location)
                if not create:
                    raise CliError(f"no store at {location}: import runs into it first (expgraph --store {location} "
                                   f"import ...), or build the demo there (expgraph --store {location} demo "
                                   "--no-serve)")
                if path.is_dir() and any(path.iterdir()):
                    raise CliError(f"{location} holds other files and no store: give a new or empty directory")
                self._created = None if path.exists() else path
            store = open_store(location, endpoint=endpoint, timeout=self.settings.timeout,
                               retention=Retention(self.settings.history_keep, self.settings.history_days))
            self._store = prepare_store(store) if prepare else store
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def discard_new_store(self) -> None:
        """Remove the store this command created, when the write it was made for failed: a typo in ``--store``
        followed by a bad source leaves nothing behind (a store that was there before is never touched)."""
        self.close()
        if self._created is not None:
            shutil.rmtree(self._created, ignore_errors=True)
            self._created = None


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    assert isinstance(root.obj, State)
    return root.obj


def print_result(result: Any, fmt: str) -> None:
    """Print a query result as a table (humans) or in a standard results format (scripts); a graph in the RDF
    format named, Turtle when ``fmt`` names none."""
    results = by_name(fmt, RESULTS)
    if isinstance(result, QuerySolutions | QueryBoolean) and results is not None and results.results is not None:
        data = result.serialize(format=results.results)
        sys.stdout.buffer.write(data if data.endswith(b"\n") else data + b"\n")  # CSV and TSV end with one
    elif isinstance(result, QueryTriples):
        graph = by_name(fmt, GRAPH)
        sys.stdout.buffer.write(result.serialize(format=graph.rdf if graph and graph.rdf else RdfFormat.TURTLE))
    elif isinstance(result, QueryBoolean):
        out.print("yes" if bool(result) else "no")
    elif isinstance(result, QuerySolutions):
        print_table([v.value for v in result.variables], ([_cell(row[v]) for v in result.variables] for row in result))
    else:
        raise CliError(f"cannot print this result as {fmt}")


def _cell(term: Any) -> str:
    return "" if term is None else term.value


def print_table(header: list[str], rows: Any) -> int:
    table = Table(*header, show_lines=False)
    count = 0
    for row in rows:
        table.add_row(*[Text(str(cell)) for cell in row])  # Text: values are data, never Rich markup
        count += 1
    out.print(table)
    err.print(f"{count} row{'s' if count != 1 else ''}")
    return count


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
