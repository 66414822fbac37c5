"""Hand-written records of negative results and failed experiments (YAML, JSON or CSV), strictly validated.

The format is the template in ``docs/templates/negative-result.yaml`` (``expgraph new-record`` writes it). Every
error names the file, the line and the field: YAML and JSON are parsed with PyYAML's composer, which keeps the
line of every node; CSV errors name the row's line. A failure mode or suspected cause that is not in our
vocabularies is reported as a warning and minted as a concept of the record's project.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from expgraph.importers.base import BoundedYamlLoader, Importer, Record, SourceError
from expgraph.namespaces import VOCAB
from expgraph.records import (
    Checksum,
    CodeVersion,
    Concept,
    DatasetSnapshot,
    Environment,
    Experiment,
    Hypothesis,
    Project,
    Result,
    Run,
    RunRef,
    RunStatus,
)
from expgraph.resources import ontology_files

#: The blank record ``expgraph new-record`` writes; docs/templates/negative-result.yaml is a copy (a test checks).
TEMPLATE = """# A negative result or failed experiment, written by hand: `expgraph import records THIS_FILE.yaml`.
# Fill in what you know and delete what you don't; unknown keys are errors (so typos are caught).
# One record per file, or a YAML list of records. Quote values YAML would otherwise read as numbers or dates
# (commits like "1234567", Python versions like "3.10").
project: ""                 # required: the project this belongs to (shared with tracker imports by name)
id: ""                      # required: unique within the file, e.g. "2024-03-lr-warmup"
title: ""                   # required: one line
date: ""                    # when it was run: 2024-03-01 (or 2024-03-01T14:00:00Z)
research_question: ""       # what did you want to find out?
hypothesis: ""              # what did you expect to be true?
expected_outcome: ""        # what result would have supported it?
setup:
  method: ""                # how: model, training recipe, protocol
  datasets:                 # materials; checksum as ALGORITHM:HEX (md5, sha1, sha256, ...)
    - name: ""
      checksum: ""
      version: ""
      location: ""
  code:
    repository: ""
    commit: ""
  environment:
    python: ""
    packages: []            # ["torch==2.2.0", ...]
    container_image: ""
observed_outcome: ""        # what actually happened
deviations: []              # deviations from the protocol, one per item
result_kind: ""             # required: supports | refutes | null-effect | inconclusive | execution-failure
failure_mode: ""            # a notation of the failure-mode vocabulary (out-of-memory, divergence, ...) or a new
                            # term: a new term is reported and minted as a concept of the project; to place it,
                            # write {term: "my new mode", broader: numerical-problem}
suspected_cause: ""         # a notation of the suspected-cause vocabulary, or a new term (as above)
lessons: []                 # lessons learned, one per item
runs: []                    # runs this is about: [{tracker: mlflow, id: 0f063d73...}, {tracker: sacred, id: "7"}]
informs: []                 # later experiments this informed: their IRIs, or ids of records in this file
"""

# A field spec is a type, a [spec] list, a {key: spec} mapping, or a tuple of alternatives.
_DATASET = {"name": str, "checksum": str, "version": str, "location": str, "context": str}
_TERM = (str, {"term": str, "label": str, "broader": str})
SCHEMA: dict[str, Any] = {
    "project": str, "id": str, "title": str, "date": datetime,
    "research_question": str, "hypothesis": str, "expected_outcome": str,
    "setup": {
        "method": str,
        "datasets": [_DATASET],
        "code": {"repository": str, "commit": str, "branch": str, "dirty": bool},
        "environment": {"python": str, "packages": [str], "container_image": str, "hostname": str, "os": str},
    },
    "observed_outcome": str, "deviations": [str], "result_kind": str,
    "failure_mode": _TERM, "suspected_cause": _TERM, "lessons": [str],
    "runs": [{"tracker": str, "id": str}], "informs": [str],
}
REQUIRED = ("project", "id", "title", "result_kind")
_CHECKSUM = re.compile(r"(?P<algorithm>[A-Za-z0-9_-]+):(?P<value>\S+)")
_TYPE_NAMES = {str: "a string", bool: "true or false", dict: "a mapping", list: "a list", int: "an integer",
               float: "a number", type(None): "nothing"}


@dataclass(frozen=True)
class Node:
    """A parsed value with the line it starts on: dict of Node, list of Node, or a scalar."""

    value: Any
    line: int


@cache
def notations() -> dict[str, frozenset[str]]:
    """The notations of each shipped vocabulary, by scheme name (``failure-mode``, ...)."""
    import pyoxigraph

    found: dict[str, set[str]] = {}
    notation = "http://www.w3.org/2004/02/skos/core#notation"
    for path in ontology_files():
        if path.parent.name != "vocab":
            continue
        for quad in pyoxigraph.parse(path.read_bytes(), pyoxigraph.RdfFormat.TURTLE, base_iri=path.as_uri()):
            if quad.predicate.value == notation and quad.subject.value.startswith(VOCAB):
                found.setdefault(path.stem, set()).add(quad.object.value)
    return {scheme: frozenset(values) for scheme, values in found.items()}


# -- parsing with line numbers ----------------------------------------------------------------------------------


class _Parser:
    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, line: int, field: str, problem: str) -> SourceError:
        where = f"line {line}" + (f", field '{field}'" if field else "")
        return SourceError(self.path, f"{where}: {problem}")

    def load(self) -> list[Node]:
        text = self.path.read_text(encoding="utf-8")
        if self.path.suffix.lower() == ".csv":
            return self.csv_rows(text)
        try:
            root = yaml.compose(text, Loader=BoundedYamlLoader)  # aliases bounded: convert() walks a tree
            node = self.convert(root, yaml.SafeLoader("")) if root is not None else None
        except RecursionError:
            raise self.error(1, "", "nested too deeply to read") from None
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            if self.path.suffix.lower() == ".json":
                try:
                    json.loads(text)
                except ValueError as json_error:
                    raise SourceError(self.path, f"not valid JSON: {json_error}") from None
            line = mark.line + 1 if mark else 1
            raise self.error(line, "", f"not valid YAML: {getattr(error, 'problem', error)}") from None
        if node is None:
            raise self.error(1, "", "the file holds no record")
        return node.value if isinstance(node.value, list) else [node]

    def convert(self, node: yaml.Node, loader: yaml.SafeLoader) -> Node:
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            mapping: dict[str, Node] = {}
            for key_node, value_node in node.value:
                key = loader.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
                if not isinstance(key, str):
                    raise self.error(key_node.start_mark.line + 1, "", "keys must be strings")
                if key in mapping:
                    raise self.error(key_node.start_mark.line + 1, key, "given twice")
                mapping[key] = self.convert(value_node, loader)
            return Node(mapping, line)
        if isinstance(node, yaml.SequenceNode):
            return Node([self.convert(item, loader) for item in node.value], line)
        return Node(loader.construct_object(node), line)

    def csv_rows(self, text: str) -> list[Node]:
        """One record per row; dotted columns nest (``setup.method``); list cells are split on ``;``."""
        reader = csv.DictReader(io.StringIO(text))
        rows = []
        for row in reader:
            if None in row:
                raise self.error(reader.line_num, "", "more cells than header columns")
            record: dict[str, Any] = {}
            for column, cell in row.items():
                if cell is None or not cell.strip():
                    continue
                parts = column.strip().split(".")
                target = record
                for part in parts[:-1]:
                    target = target.setdefault(part, {})
                    if not isinstance(target, dict):
                        raise self.error(reader.line_num, column, "column clashes with another column")
                target[parts[-1]] = self.csv_cell(parts, cell.strip(), reader.line_num)
            rows.append(_nodes(record, reader.line_num))
        if not rows:
            raise self.error(1, "", "the file holds no record")
        return rows

    def csv_cell(self, parts: list[str], cell: str, line: int) -> Any:
        spec = _spec_at(parts)
        if isinstance(spec, list):
            items = [item.strip() for item in cell.split(";") if item.strip()]
            if parts[-1] == "datasets":
                return [dict(zip(("name", "checksum"), item.split("=", 1), strict=False)) for item in items]
            if parts[-1] == "runs":
                return [dict(zip(("tracker", "id"), item.split(":", 1), strict=False)) for item in items]
            return items
        if spec is bool:
            if cell.lower() not in ("true", "false"):
                raise self.error(line, ".".join(parts), f"expected true or false, found {cell!r}")
            return cell.lower() == "true"
        return cell


def _nodes(value: Any, line: int) -> Node:
    if isinstance(value, dict):
        return Node({k: _nodes(v, line) for k, v in value.items()}, line)
    if isinstance(value, list):
        return Node([_nodes(v, line) for v in value], line)
    return Node(value, line)


def _spec_at(parts: list[str]) -> Any:
    spec: Any = SCHEMA
    for part in parts:
        spec = spec.get(part) if isinstance(spec, dict) else None
    return spec


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


# -- validation -------------------------------------------------------------------------------------------------


def check(parser: _Parser, node: Node, spec: Any, field: str) -> Any:
    """The plain value of ``node`` if it matches ``spec``; else a SourceError naming line and field."""
    if isinstance(spec, tuple):  # alternatives: the one of the value's kind (mapping or not), else the first
        chosen = next((s for s in spec if isinstance(s, dict) == isinstance(node.value, dict)), spec[0])
        return check(parser, node, chosen, field)
    if isinstance(spec, dict):
        if not isinstance(node.value, dict):
            raise parser.error(node.line, field, f"expected a mapping, found {_TYPE_NAMES.get(type(node.value))}")
        out = {}
        for key, child in node.value.items():
            name = f"{field}.{key}" if field else key
            if key not in spec:
                raise parser.error(child.line, name, f"unknown key (known: {', '.join(spec)})")
            if not _empty(child.value):
                out[key] = check(parser, child, spec[key], name)
        return out
    if isinstance(spec, list):
        if not isinstance(node.value, list):
            raise parser.error(node.line, field, f"expected a list, found {_TYPE_NAMES.get(type(node.value))}")
        return [check(parser, item, spec[0], f"{field}[{i}]") for i, item in enumerate(node.value)]
    if spec is datetime:
        return _date(parser, node, field)
    if type(node.value) is not spec:
        found = _TYPE_NAMES.get(type(node.value), type(node.value).__name__)
        hint = " (quote it)" if spec is str and not isinstance(node.value, dict | list) else ""
        raise parser.error(node.line, field, f"expected {_TYPE_NAMES[spec]}, found {found} {node.value!r}{hint}")
    return node.value


def _date(parser: _Parser, node: Node, field: str) -> datetime:
    """A date or date-time (YAML reads ``2024-03-01`` as a date; JSON and CSV give ISO text); UTC if naive."""
    value = node.value
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise parser.error(node.line, field, f"expected a date like 2024-03-01, found {value!r}") from None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise parser.error(node.line, field, f"expected a date like 2024-03-01, found {value!r}")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _slug(text: str) -> str:
    return re.sub(r"[^\w]+", "-", text.strip().lower()).strip("-") or "term"


class RecordsImporter(Importer):
    """Import hand-written negative results and failed experiments (the ``expgraph new-record`` template)."""

    tracker = "records"
    source_help = "A records file: .yaml/.yml, .json or .csv (see `expgraph new-record`)."

    def _path(self) -> Path:
        path = Path(self.source).expanduser()
        if not path.is_file():
            raise SourceError(path, "no such file")
        if path.suffix.lower() not in (".yaml", ".yml", ".json", ".csv"):
            raise SourceError(path, "expected a .yaml, .yml, .json or .csv file")
        return path.resolve()

    def identity(self) -> str:
        return str(self._path())

    def fingerprint_roots(self) -> list[Path]:
        return [self._path()]

    def records(self) -> Iterator[Record]:
        parser = _Parser(self._path())
        seen: dict[str, int] = {}
        for index, node in enumerate(parser.load()):
            try:
                yield from self._record(parser, node, seen)
            except SourceError as error:
                self.collector.invalid(error)
            self.progress(index + 1, None)

    def _record(self, parser: _Parser, node: Node, seen: dict[str, int]) -> Iterator[Record]:
        data = check(parser, node, SCHEMA, "")
        for key in REQUIRED:
            if key not in data:
                raise parser.error(node.line, key, "required but missing or empty")
        if data["id"] in seen:
            raise parser.error(node.value["id"].line, "id", f"{data['id']!r} already used on line {seen[data['id']]}")
        seen[data["id"]] = node.value["id"].line
        vocab = notations()
        kind = data["result_kind"]
        if kind not in vocab.get("result-kind", ()) and not kind.startswith(("http://", "https://")):
            known = ", ".join(sorted(vocab.get("result-kind", ())))
            raise parser.error(node.value["result_kind"].line, "result_kind", f"{kind!r} is not one of {known}")
        terms: dict[str, str | None] = {}
        for field, scheme in (("failure_mode", "failure-mode"), ("suspected_cause", "suspected-cause")):
            terms[field] = None
            if field in data:
                terms[field], concept = self._term(parser, node.value[field], data, field, scheme)
                if concept is not None:
                    yield concept
        setup = data.get("setup", {})
        record_id, project = data["id"], data["project"]
        yield Project(project)
        hypothesis = Hypothesis(data["hypothesis"], data.get("expected_outcome")) if "hypothesis" in data else None
        yield Experiment(native_id=record_id, name=data["title"], project=project,
                         research_question=data.get("research_question"), method=setup.get("method"),
                         hypothesis=hypothesis)
        runs: tuple[str, ...] = ()
        if any(key in setup for key in ("datasets", "code", "environment")):
            runs = (record_id,)
            if "date" not in data:
                self.collector.warn(f"{parser.path}: line {node.line}: record {record_id!r} has a setup but no date: "
                                    "its run gets no start time (validation reports it)")
            yield self._setup_run(parser, node, record_id, data, setup)
        yield Result(
            native_id=record_id,
            kind=kind,
            negative=kind != "supports",
            title=data["title"],
            runs=runs,
            run_refs=tuple(RunRef(ref["tracker"], ref["id"]) for ref in data.get("runs", [])),
            experiment_id=record_id,
            hypothesis=hypothesis,
            expected_outcome=data.get("expected_outcome"),
            observed_outcome=data.get("observed_outcome"),
            deviations=tuple(data.get("deviations", [])),
            failure_mode=terms["failure_mode"],
            suspected_cause=terms["suspected_cause"],
            lessons=tuple(data.get("lessons", [])),
            informs=tuple(data.get("informs", [])),
        )

    def _term(self, parser: _Parser, node: Node, data: dict[str, Any], field: str,
              scheme: str) -> tuple[str, Concept | None]:
        """A vocabulary notation or IRI as it is; a new term becomes a project concept, with a warning."""
        value = data[field]
        term, label, broader = (value, value, None) if isinstance(value, str) else (
            value.get("term"), value.get("label") or value.get("term"), value.get("broader"))
        if not term:
            raise parser.error(node.line, f"{field}.term", "required in a new term")
        known = notations().get(scheme, frozenset())
        if term in known or term.startswith(("http://", "https://", "urn:")):
            return term, None
        if broader is not None and broader not in known and not broader.startswith(("http://", "https://")):
            raise parser.error(node.line, f"{field}.broader", f"{broader!r} is not in the {scheme} vocabulary")
        notation = _slug(term)
        self.collector.warn(f"{parser.path}: line {node.line}: {field} {term!r} is not in the {scheme} vocabulary; "
                            f"minted as a concept of project {data['project']!r}"
                            + (f" under {broader!r}" if broader else " (give it a broader concept to roll it up)"))
        return notation, Concept(scheme, notation, data["project"], label or term, broader)

    @staticmethod
    def _setup_run(parser: _Parser, node: Node, record_id: str, data: dict[str, Any], setup: dict[str, Any]) -> Run:
        """The recorded setup as a run of unknown status: datasets, code and environment hang off runs."""
        datasets = []
        for index, item in enumerate(setup.get("datasets", [])):
            checksum = None
            if "checksum" in item:
                match = _CHECKSUM.fullmatch(item["checksum"])
                if not match:
                    line = node.value["setup"].value["datasets"].value[index].line
                    raise parser.error(line, f"setup.datasets[{index}].checksum", "expected ALGORITHM:VALUE, "
                                       f"e.g. md5:c58f30108f718f92721af3b95e74349a, found {item['checksum']!r}")
                checksum = Checksum(match["algorithm"].lower(), match["value"])
            if "name" not in item:
                raise parser.error(node.value["setup"].line, f"setup.datasets[{index}].name", "required")
            datasets.append(DatasetSnapshot(item["name"], checksum, item.get("version"), item.get("location"),
                                            item.get("context")))
        code = setup.get("code") or {}
        if code and "commit" not in code:
            raise parser.error(node.value["setup"].value["code"].line, "setup.code.commit", "required in code")
        env = setup.get("environment") or {}
        return Run(
            native_id=record_id,
            experiment_id=record_id,
            status=RunStatus.UNKNOWN,
            started=data.get("date"),
            name=f"{data['title']} (recorded by hand)",
            datasets=tuple(datasets),
            code=CodeVersion(code["commit"], code.get("repository"), code.get("dirty"), code.get("branch"))
            if code else None,
            environment=Environment(env.get("python"), tuple(env.get("packages", [])), env.get("container_image"),
                                    env.get("hostname"), env.get("os")) if env else None,
            tags={"recorded-by-hand": "true"},
        )
