"""SHACL validation of the catalog: shapes compiled to SPARQL (pySHACL for the rest), reports and scores."""

from __future__ import annotations

from collections import Counter

from pyoxigraph import NamedNode, QuerySolutions
from rdflib.namespace import SH

from expgraph.namespaces import EG
from expgraph.store import Store
from expgraph.validation.engine import (
    Shapes,
    ValidationReport,
    ValidationResult,
    reference_validate,
    severity_name,
    validate,
)
from expgraph.validation.scores import QUALITY_GRAPH, Scores, Tally, compute_scores, node_tallies, write_scores


def validate_catalog(store: Store, shapes: Shapes | None = None, *, write: bool = True
                     ) -> tuple[ValidationReport, Scores]:
    """Validate the whole catalog and (by default) refresh the stored completeness scores."""
    report = validate(store, shapes)
    scores = compute_scores(store, report)
    if write:
        write_scores(store, scores)
    return report, scores


def summarise_import(store: Store, graph: NamedNode) -> dict[str, object]:
    """The completeness of what one import brought in.

    Only the records ``graph`` describes are validated, with the whole catalog as data (a run's links may point
    into other sources). The stored scores, which pool over experiments and projects across sources, are
    refreshed by a whole-catalog ``validate_catalog``.
    """
    report = validate(store, focus_graph=graph)
    tallies = node_tallies(report)
    rows = store.query(f"SELECT DISTINCT ?s WHERE {{ ?s a {EG.Run} }}", graphs=[graph])
    assert isinstance(rows, QuerySolutions)
    results = report.results
    counts = Counter(severity_name(r.severity) for r in results)
    pooled = sum(tallies.values(), Tally(0, 0))
    runs = [tallies.get(row["s"].value, Tally(0, 0)) for row in rows]
    missing = Counter(report.shapes.describe(r.shape).name for r in results if r.severity == str(SH.Warning))
    return {
        "violations": counts["violation"],
        "warnings": counts["warning"],
        "infos": counts["info"],
        "completeness": None if pooled.score is None else round(pooled.score, 4),
        "runs": len(runs),
        "complete_runs": sum(1 for tally in runs if tally.met == tally.applicable),
        "missing_most": [{"what": name, "count": count} for name, count in missing.most_common(3)],
    }


__all__ = [
    "QUALITY_GRAPH",
    "Scores",
    "Shapes",
    "ValidationReport",
    "ValidationResult",
    "compute_scores",
    "reference_validate",
    "summarise_import",
    "validate",
    "validate_catalog",
    "write_scores",
]
