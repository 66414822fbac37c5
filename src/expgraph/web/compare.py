"""The compare page's data (2 to 50 runs): runs as columns, parameters and metrics as rows, so many runs scroll
sideways inside the table while the names stay put; the parameters that differ apart from those every run shares;
the runs' configurations, each with its way into "has this already failed elsewhere?".

Built on :func:`expgraph.web.resources.compare` (runs as rows, its JSON twin kept as it was) and turned here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from pyoxigraph import NamedNode, QuerySolutions

from expgraph.sparql.template import SparqlTemplate
from expgraph.store import Store
from expgraph.web import resources
from expgraph.web.reading import PROLOGUE

#: Each run's configuration (the node runs of the same settings meet on) and its label.
CONFIGURATIONS = SparqlTemplate.parse(PROLOGUE + """SELECT ?run ?config ?label WHERE {
  #@runs
  ?run eg:hasConfiguration ?config OPTIONAL { ?config rdfs:label ?label } }""")


def compare(store: Store, runs: list[NamedNode]) -> dict[str, Any]:
    """``resources.compare``'s data plus ``columns`` (one per run), ``params`` (``differing`` rows, one value per
    run; ``same`` rows, one value) , ``metrics`` (rows, one final value per run) and ``configurations``."""
    data = resources.compare(store, runs)
    rows = data["table"]["rows"]
    configs = _configurations(store, runs)
    data["columns"] = [{"run": row["run"], "status": row["status"], "experiment": row.get("experiment"),
                        "configuration": configs.get(row["run"]["iri"])} for row in rows]
    differing, same = [], []
    for column in data["table"]["params"]:
        values = [row["params"].get(column["key"]) for row in rows]
        if column["differs"]:
            differing.append({"key": column["key"], "values": values})
        else:
            same.append({"key": column["key"], "value": values[0] if values else None})
    data["params"] = {"differing": differing, "same": same}
    data["metrics"] = [{"key": column["key"], "differs": column["differs"],
                        "values": [row["metrics"].get(column["key"]) for row in rows]}
                       for column in data["table"]["metrics"]]
    data["configurations"] = _grouped(data["columns"])
    return data


def _configurations(store: Store, runs: list[NamedNode]) -> dict[str, dict[str, str]]:
    if not runs:
        return {}
    result = store.query(CONFIGURATIONS.bind(runs=(["run"], [[run] for run in runs])))
    assert isinstance(result, QuerySolutions)
    found: dict[str, dict[str, str]] = {}
    for run, config, label in result:
        found.setdefault(run.value, {"iri": config.value, "label": label.value if label is not None
                                     else config.value.rsplit("/", 1)[-1]})
    return found


def _grouped(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs' configurations in first-seen order, each with its runs and the ``already-failed`` query asked
    for its first run (the query finds failed runs of the same or nearly the same configuration)."""
    groups: dict[str, dict[str, Any]] = {}
    for column in columns:
        config = column["configuration"]
        if config is None:
            continue
        group = groups.setdefault(config["iri"], {
            "configuration": config, "runs": [],
            "already_failed": "/queries/already-failed?" + urlencode({"run": column["run"]["iri"]})})
        group["runs"].append(column["run"])
    return list(groups.values())
