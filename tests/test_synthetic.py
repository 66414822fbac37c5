"""The synthetic catalog generator: deterministic, realistic in shape, and loadable."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from expgraph.mapping import map_batch
from expgraph.namespaces import sparql_prologue
from expgraph.records import RunStatus
from synthetic import build_store, make_batch, split_by_project


def test_same_seed_same_records_and_triples() -> None:
    first, second = make_batch(300, seed=7), make_batch(300, seed=7)
    assert first == second
    assert [str(t) for t in map_batch(first)] == [str(t) for t in map_batch(second)]
    assert make_batch(300, seed=8).runs != first.runs


def test_counts_and_shape() -> None:
    batch = make_batch(2000, seed=1, projects=4)
    assert len(batch.runs) == 2000
    assert len({run.native_id for run in batch.runs}) == 2000
    assert len(batch.projects) == 4
    assert 2000 / 30 < len(batch.experiments) < 2000 / 10  # about 20 runs per experiment
    statuses = Counter(run.status for run in batch.runs)
    failed = statuses[RunStatus.FAILED] + statuses[RunStatus.KILLED]
    assert 0.26 < failed / 2000 < 0.34
    # every failed or killed run is explained by a negative result with a failure mode and a cause
    explained = {r.runs[0] for r in batch.results if r.kind == "execution-failure"}
    assert explained == {run.native_id for run in batch.runs if run.status.is_failure}
    hand = [r for r in batch.results if r.kind != "execution-failure"]
    assert {"supports", "refutes", "null-effect"} <= {r.kind for r in hand}
    assert any(r.informs for r in hand) and any(r.lessons for r in batch.results)
    # gaps for completeness checks, and non-finite losses
    assert any(run.code is None for run in batch.runs) and any(run.environment is None for run in batch.runs)
    assert any(d.checksum is None for run in batch.runs for d in run.datasets)
    assert any(not math.isfinite(m.value) for run in batch.runs for m in run.metrics)
    assert {"lr", "learning_rate"} <= {p.key for run in batch.runs for p in run.params}
    assert any(run.parent_id for run in batch.runs)
    errors = " ".join(run.error_text or "" for run in batch.runs)
    for message in ("CUDA out of memory", "FloatingPointError", "ModuleNotFoundError", "mat1 and mat2 shapes"):
        assert message in errors


def test_datasets_are_shared_and_drift() -> None:
    batch = make_batch(1000, seed=2)
    checksums = Counter(d.checksum.value for run in batch.runs for d in run.datasets if d.checksum)
    assert max(checksums.values()) > 20  # a snapshot shared by many runs
    versions: dict[str, set[str]] = {}
    for run in batch.runs:
        for dataset in run.datasets:
            versions.setdefault(dataset.name, set()).add(dataset.version or "")
    assert any(len(v) > 1 for v in versions.values())  # some dataset drifted to a new version


def test_split_by_project_keeps_everything() -> None:
    batch = make_batch(600, seed=3, projects=3)
    parts = list(split_by_project(batch))
    assert len(parts) == 3
    assert sum(len(p.runs) for p in parts) == 600
    assert sum(len(p.results) for p in parts) == len(batch.results)
    for part in parts:
        runs = {run.native_id for run in part.runs}
        assert all(set(r.runs) <= runs for r in part.results)
        assert all(run.parent_id is None or run.parent_id in runs for run in part.runs)


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n_runs"):
        make_batch(-1)
    with pytest.raises(ValueError, match="projects"):
        make_batch(10, projects=0)


def test_loads_and_answers_queries() -> None:
    batch = make_batch(400, seed=4)
    store = build_store(400, None, seed=4)
    try:
        prologue = sparql_prologue()
        runs = store.select(prologue + "SELECT (COUNT(DISTINCT ?r) AS ?n) WHERE { ?r a eg:Run }")
        assert int(runs[0]["n"].value) == 400
        failed = store.select(prologue + """SELECT (COUNT(DISTINCT ?r) AS ?n) WHERE {
            ?r a eg:Run ; eg:status ?s . ?s skos:notation ?code FILTER(?code IN ("failed", "killed")) }""")
        assert int(failed[0]["n"].value) == sum(1 for run in batch.runs if run.status.is_failure)
        rollup = store.select(prologue + """SELECT (COUNT(DISTINCT ?res) AS ?n) WHERE {
            ?res a eg:NegativeResult ; eg:failureMode/skos:broader* ?top .
            ?top skos:notation "resource-exhaustion" }""")
        narrower = {row["code"].value for row in store.select(prologue + """SELECT ?code WHERE {
            ?leaf skos:broader ?top ; skos:notation ?code . ?top skos:notation "resource-exhaustion" }""")}
        assert "out-of-memory" in narrower
        expected = sum(1 for r in batch.results if r.failure_mode in narrower)
        assert int(rollup[0]["n"].value) == expected > 0
    finally:
        store.close()
