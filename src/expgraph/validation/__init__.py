"""SHACL validation of the catalog: shapes compiled to SPARQL (pySHACL for the rest), reports and scores."""

from __future__ import annotations

from collections import Counter

from pyoxigraph import NamedNode, QuerySolutions
from rdflib.namespace import SH

from expgraph.store import Store
from expgraph.validation.engine import (
    Shapes,
    ValidationReport,
    ValidationResult,
    reference_validate,
    severity_name,
    validate,
)
from expgraph.validation.scores import QUALITY_GRAPH, Scores, Tally, compute_scores, write_scores


def validate_catalog(store: Store, shapes: Shapes | None = None, *, write: bool = True
                     ) -> tuple[ValidationReport, Scores]:
    """Validate the whole catalog and (by default) refresh the stored completeness scores."""
    report = validate(store, shapes)
    scores = compute_scores(store, report)
    if write:
        write_scores(store, scores)
    return report, scores


def summarise_import(store: Store, graph: NamedNode) -> dict[str, object]:
    """The completeness of what one import brought in; refreshes the catalog's stored scores on the way.

    The whole catalog is validated (a run's links may point into other sources, and the stored scores must stay
    whole), then the summary keeps the records described in ``graph``.
    """
    report, scores = validate_catalog(store)
    rows = store.query("SELECT DISTINCT ?s WHERE { ?s ?p ?o }", graphs=[graph])
    assert isinstance(rows, QuerySolutions)
    mine = {row["s"].value for row in rows}
    results = [r for r in report.results if r.focus in mine]
    counts = Counter(severity_name(r.severity) for r in results)
    pooled = sum((tally for node, tally in scores.nodes.items() if node in mine), Tally(0, 0))
    runs = [tally for node, tally in scores.runs.items() if node in mine]
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
