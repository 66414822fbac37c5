"""Saved queries: ``queries/*.rq`` files with a header of comment lines, parameters bound as RDF terms.

A header looks like this (``description`` and ``param`` lines may repeat)::

    # title: Failure modes per project
    # description: Negative results per project, rolled up the failure-mode hierarchy.
    # param: project iri default=urn:expgraph:any -- only this project (default: every project)
    # param: run iri required -- the failed run to compare with
    # tags: failures, skos
    # chart: bar

A parameter is ``NAME TYPE [required] [default=VALUE] -- help``. Types: ``iri``, ``string``, ``integer``,
``decimal``, ``double``, ``boolean``, ``date``, ``datetime``: bound as the variable ``?_NAME`` by one
``VALUES (?_a ?_b) { (...) }`` row that replaces the ``#@params`` line of the query; and ``pairs``
(``key=value,key=value``): rows of ``VALUES (?_NAME_key ?_NAME_value)`` in place of each ``#@values NAME`` line.
The lines are slots of a :class:`~expgraph.sparql.template.SparqlTemplate` (found by lexing, so the same words in a
literal are text), and every value is type-checked and written as a term by its one escaping function, never as
text, so a hostile value can only ever be a term; it cannot change the query. The bound text then passes the same
guard as any query. ``VALUES`` rather than pyoxigraph's
``substitutions`` because those only bind variables of the SELECT projection (not inside aggregates or FILTERs),
and because ``VALUES`` works the same on a remote store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path

from pyoxigraph import Literal, NamedNode

from expgraph.lexical import typed_text
from expgraph.mapping import date_time, scalar
from expgraph.namespaces import XSD
from expgraph.resources import query_files
from expgraph.sparql.guard import QueryRefused, check_query
from expgraph.sparql.template import SparqlTemplate, Values
from expgraph.store import Store
from expgraph.store.base import QueryResult, Term

TYPES = ("iri", "string", "integer", "decimal", "double", "boolean", "date", "datetime", "pairs")
#: The default of an optional IRI parameter meaning "no filter"; queries test ``?p = <urn:expgraph:any>``.
ANY = "urn:expgraph:any"
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]*$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PARAM = re.compile(r"^(?P<name>\S+)\s+(?P<type>\S+)(?P<flags>.*?)(?:\s+--\s+(?P<help>.*))?$")
_MAX_TEXT = 2000
_MAX_PAIRS = 20


class SavedQueryError(ValueError):
    """A bad ``.rq`` file (names the file) or a bad parameter value (names the parameter)."""


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: str | None = None
    required: bool = False
    help: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "type": self.type, "default": self.default, "required": self.required,
                "help": self.help}


@dataclass(frozen=True)
class SavedQuery:
    name: str
    title: str
    description: str
    text: str
    parameters: tuple[Parameter, ...] = ()
    tags: tuple[str, ...] = ()
    chart: str | None = None
    path: Path | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "title": self.title, "description": self.description,
                "parameters": [p.as_dict() for p in self.parameters], "tags": list(self.tags), "chart": self.chart}

    @cached_property
    def template(self) -> SparqlTemplate:
        return SparqlTemplate.parse(self.text)

    def bind(self, raw: Mapping[str, str]) -> str:
        """The query text with every parameter bound as terms in ``VALUES`` blocks, from raw string values."""
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise SavedQueryError(f"{self.name}: unknown parameter {unknown[0]!r} "
                                  f"(known: {', '.join(known) or 'none'})")
        scalars: dict[str, Term] = {}
        blocks: dict[str, Values] = {}
        for parameter in self.parameters:
            value = raw.get(parameter.name)
            if value is None or value == "":
                if parameter.required:
                    raise SavedQueryError(f"{self.name}: parameter {parameter.name!r} is required")
                value = parameter.default
            if parameter.type == "pairs":
                blocks[parameter.name] = ((f"_{parameter.name}_key", f"_{parameter.name}_value"),
                                          _pairs(parameter.name, value or ""))
            elif value is not None:
                scalars[parameter.name] = convert(parameter, value)
        if scalars:
            blocks["params"] = ([f"_{name}" for name in scalars], [list(scalars.values())])
        return self.template.bind(**blocks)


def convert(parameter: Parameter, value: str) -> Term:
    """A raw string as the parameter's RDF term; raises :class:`SavedQueryError` naming the parameter."""
    name, kind = parameter.name, parameter.type
    if len(value) > _MAX_TEXT:
        raise SavedQueryError(f"parameter {name!r}: value longer than {_MAX_TEXT} characters")
    try:
        if kind == "iri":
            if not _IRI.match(value):
                raise ValueError("not an absolute IRI (like https://example.org/x)")
            return NamedNode(value)
        if kind == "string":
            return Literal(value)
        if kind == "integer":
            return Literal(str(int(value.strip())), datatype=XSD.integer)
        if kind == "decimal":
            return Literal(repr(float(value.strip())), datatype=XSD.decimal)
        if kind == "double":
            return Literal(repr(float(value.strip())), datatype=XSD.double)
        if kind == "boolean":
            lowered = value.strip().lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError("expected true or false")
            return Literal("true" if lowered in ("true", "1", "yes") else "false", datatype=XSD.boolean)
        if kind == "date":
            return Literal(date.fromisoformat(value.strip()).isoformat(), datatype=XSD.date)
        if kind == "datetime":
            return date_time(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
    except ValueError as error:
        raise SavedQueryError(f"parameter {name!r}: {value!r} is not a valid {kind}: {error}") from None
    raise SavedQueryError(f"parameter {name!r}: unknown type {kind!r}")


def typed_value(text: str) -> Literal:
    """A configuration value typed as the importers type a tracker's text (``lexical.typed_text``), so that it
    meets the settings they wrote: ``nan`` or ``007`` stay text, as in the catalog."""
    return scalar(typed_text(text.strip()))


def _pairs(name: str, value: str) -> list[tuple[Literal, Literal]]:
    """``key=value,key=value`` as (key literal, typed value literal) rows."""
    rows = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            raise SavedQueryError(f"parameter {name!r}: expected key=value pairs separated by commas, got {item!r}")
        rows.append((Literal(key.strip()), typed_value(val)))
    if len(rows) > _MAX_PAIRS:
        raise SavedQueryError(f"parameter {name!r}: at most {_MAX_PAIRS} pairs")
    return rows


def parse_query_file(path: Path) -> SavedQuery:
    """Read one ``.rq`` file; raises :class:`SavedQueryError` naming the file and the bad header line."""
    text = path.read_text(encoding="utf-8")
    fields: dict[str, list[str]] = {}
    parameters: list[Parameter] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith("#"):
            break
        key, sep, value = line.lstrip("#").strip().partition(":")
        if not sep or " " in key.strip():
            continue  # a plain comment
        key, value = key.strip().lower(), value.strip()
        if key == "param":
            parameters.append(_parameter(path, number, value))
        else:
            fields.setdefault(key, []).append(value)
    if not fields.get("title"):
        raise SavedQueryError(f"{path}: the header has no '# title:' line")
    chart = (fields.get("chart") or [None])[0]
    if chart not in (None, "bar", "line"):
        raise SavedQueryError(f"{path}: chart must be bar or line, not {chart!r}")
    _check_markers(path, text, parameters)
    tags = tuple(t.strip() for line in fields.get("tags", []) for t in line.split(",") if t.strip())
    return SavedQuery(path.stem, fields["title"][0], " ".join(fields.get("description", [])), text,
                      tuple(parameters), tags, chart, path)


def _parameter(path: Path, number: int, spec: str) -> Parameter:
    match = _PARAM.match(spec)
    if not match or not _NAME.match(match["name"]) or match["type"] not in TYPES:
        raise SavedQueryError(f"{path}:{number}: bad parameter line {spec!r}: expected "
                              f"'NAME TYPE [required] [default=VALUE] -- help' with TYPE one of {', '.join(TYPES)}")
    default, required = None, False
    for flag in match["flags"].split():
        if flag == "required":
            required = True
        elif flag.startswith("default="):
            default = flag.removeprefix("default=")
        else:
            raise SavedQueryError(f"{path}:{number}: unknown parameter flag {flag!r}")
    parameter = Parameter(match["name"], match["type"], default, required, (match["help"] or "").strip())
    if not required and default is None and parameter.type != "pairs":
        raise SavedQueryError(f"{path}:{number}: optional parameter {parameter.name!r} needs a default")
    if default is not None:
        convert(parameter, default) if parameter.type != "pairs" else _pairs(parameter.name, default)
    return parameter


def _check_markers(path: Path, text: str, parameters: list[Parameter]) -> None:
    """Every parameter must have somewhere to go: a ``#@params`` line for scalars, ``#@values NAME`` for pairs
    (comments of their own: the same words inside a literal are not slots)."""
    slots = SparqlTemplate.parse(text).slots
    for parameter in parameters:
        slot = parameter.name if parameter.type == "pairs" else "params"
        if slot not in slots:
            marker = f"#@values {parameter.name}" if parameter.type == "pairs" else "#@params"
            raise SavedQueryError(f"{path}: parameter {parameter.name!r} is declared but the query has no "
                                  f"{marker!r} line to bind it")


def load_queries(directory: Path | None = None) -> dict[str, SavedQuery]:
    """Every saved query by name, from ``directory`` or the shipped ``queries/`` folder."""
    files = sorted(directory.glob("*.rq")) if directory is not None else query_files()
    return {query.name: query for query in map(parse_query_file, files)}


def get_query(name: str, directory: Path | None = None) -> SavedQuery:
    queries = load_queries(directory)
    if name not in queries:
        raise SavedQueryError(f"no saved query named {name!r} (known: {', '.join(sorted(queries))})")
    return queries[name]


def run_saved(store: Store, query: SavedQuery, raw: Mapping[str, str] | None = None) -> QueryResult:
    """Run a saved query on any store, its parameters type-checked and bound as terms, through the same guard as
    any query (:func:`~expgraph.sparql.guard.check_query`): what runs is the text it checked."""
    try:
        checked = check_query(query.bind(raw or {}))
    except QueryRefused as refused:
        raise SavedQueryError(f"{query.name}: {refused}") from None
    return store.query(checked.text)
