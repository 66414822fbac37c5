"""Inferred liveness on stores whose process was really killed (SIGKILL mid-run, see the fixtures' generate.py).

MLflow leaves the killed run RUNNING forever; Sacred too, with a heartbeat that stops. The tracker's status stays
what it said; beside it the mapper writes ``eg:inferredStatus`` presumed-dead once the last sign of life is older
than the threshold at import. Every test pins "now" and the threshold, so none depends on today's date.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from expgraph.catalog import run_import
from expgraph.failures import FailureClassifier
from expgraph.importers import IMPORTERS, build_batch
from expgraph.importers.sacred import _time
from expgraph.mapping import DEFAULT_BASE, Minter, source_key
from expgraph.records import Liveness
from expgraph.settings import load_settings
from expgraph.sparql.saved import get_query, run_saved
from expgraph.store import Store
from expgraph.web.app import create_app

FIXTURES = Path(__file__).parent / "fixtures"
EG = "https://w3id.org/expgraph#"
STATUS = "https://w3id.org/expgraph/vocab/run-status/"
#: crashed-worker's one logged value: T0 + 70.5 s in tests/fixtures/mlflow/generate.py
CRASHED_LAST_VALUE = datetime.fromtimestamp(1_700_000_070.5, UTC)
SACRED_KILLED_START = _time(json.loads((FIXTURES / "sacred" / "runs" / "7" / "run.json").read_text())["start_time"])


@pytest.fixture(params=["mlruns", "sqlite"])
def mlflow_source(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    shutil.copytree(FIXTURES / "mlflow", tmp_path / "mlflow")
    return str(tmp_path / "mlflow" / "mlruns") if request.param == "mlruns" \
        else f"sqlite:///{tmp_path / 'mlflow' / 'sqlite' / 'mlflow.db'}"


def _inferred(store: Store) -> dict[str, tuple[str, str, str | None]]:
    """Each run with an inferred status: (its tracker status, its inferred status, its last sign of life)."""
    rows = store.select(f"""
        SELECT ?name ?status ?inferred ?seen WHERE {{
          ?run <{EG}inferredStatus> ?inferred ; <{EG}status> ?status ;
               <http://www.w3.org/2000/01/rdf-schema#label> ?name
          OPTIONAL {{ ?run <{EG}lastSignOfLife> ?seen }} }}""")
    return {row["name"].value: (row["status"].value.removeprefix(STATUS), row["inferred"].value.removeprefix(STATUS),
                                row["seen"].value if row.get("seen") else None) for row in rows}


def _failures_by_mode(store: Store, project: str) -> dict[str, int]:
    return {row["mode"].value.rsplit("/", 1)[-1]: int(row["results"].value)
            for row in run_saved(store, get_query("failures-by-mode"), {}) if row["project"].value == project}


def test_a_sigkilled_mlflow_run_is_presumed_dead_beside_its_running_status(mlflow_source: str,
                                                                            memory_store: Store) -> None:
    importer = IMPORTERS["mlflow"]
    alive = Liveness(CRASHED_LAST_VALUE + timedelta(hours=1), timedelta(hours=2))
    run_import(memory_store, importer(mlflow_source), liveness=alive)
    assert _inferred(memory_store) == {}
    assert _failures_by_mode(memory_store, "nlp") == {"interruption": 1}  # bert-finetune, KILLED by MLflow itself
    dead = Liveness(CRASHED_LAST_VALUE + timedelta(hours=1), timedelta(minutes=30))
    outcome = run_import(memory_store, importer(mlflow_source), liveness=dead)
    assert outcome.changed
    assert _inferred(memory_store) == {"crashed-worker": ("running", "presumed-dead", "2023-11-14T22:14:30.5Z")}
    assert _failures_by_mode(memory_store, "nlp") == {"interruption": 2}  # and the presumed dead run, as killed
    again = run_import(memory_store, importer(mlflow_source), liveness=dead)
    assert not again.changed  # the inference is a fact of the data and the threshold, not of the import's time


def test_a_sigkilled_sacred_run_is_presumed_dead_once_silent_longer_than_the_threshold(memory_store: Store) -> None:
    source = str(FIXTURES / "sacred" / "runs")
    within = Liveness(SACRED_KILLED_START + timedelta(minutes=5), timedelta(minutes=10))
    run_import(memory_store, IMPORTERS["sacred"](source), liveness=within)
    assert _inferred(memory_store) == {}
    beyond = Liveness(SACRED_KILLED_START + timedelta(minutes=11), timedelta(minutes=10))
    run_import(memory_store, IMPORTERS["sacred"](source), liveness=beyond)
    # killed before its first heartbeat (Sacred beats every 10 s): its start is the last sign of life
    assert _inferred(memory_store) == {"mnist-mlp #7": ("running", "presumed-dead", None)}
    listed = list(run_saved(memory_store, get_query("presumed-dead-runs"), {}))
    assert [(row["label"].value, row["status"].value) for row in listed] == [("mnist-mlp #7", "running")]
    assert listed[0]["last_sign_of_life"].value == SACRED_KILLED_START.isoformat().replace("+00:00", "Z")
    recent = {row["run"].value: row["status"].value
              for row in run_saved(memory_store, get_query("recent-failures"), {})}
    assert recent[Minter("sacred", str(Path(source).resolve())).run("7").value] == "presumed-dead"


def test_the_run_page_shows_the_inferred_status_beside_the_trackers(memory_store: Store) -> None:
    source = str(FIXTURES / "sacred" / "runs")
    run_import(memory_store, IMPORTERS["sacred"](source),
               liveness=Liveness(SACRED_KILLED_START + timedelta(days=2)))  # the default threshold, 24 h
    iri = Minter("sacred", str(Path(source).resolve())).run("7").value
    assert source_key("sacred", str(Path(source).resolve())) in iri
    with TestClient(create_app(memory_store, load_settings(environ={}))) as client:
        url = "/id/" + iri.removeprefix(DEFAULT_BASE)
        page = client.get(url, params={"format": "json"}).json()
        assert (page["status"], page["inferred_status"], page["failed"]) == ("running", "presumed-dead", True)
        assert [r["failure_mode"]["label"] for r in page["results"]] == ["killed"]
        html = client.get(url).text
        assert "Inferred status" in html and "status-presumed-dead" in html and "the tracker still says running" in html


def test_the_import_command_takes_the_threshold_from_the_setting(cli, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture's killed run is from 2023: presumed dead at the default 24 h; not with a threshold of 100 years."""
    shutil.copytree(FIXTURES / "sacred" / "runs", tmp_path / "runs")
    monkeypatch.setenv("EXPGRAPH_PRESUMED_DEAD_AFTER", str(100 * 365 * 24))
    code, out, err = cli("import", "sacred", str(tmp_path / "runs"), "--no-validate", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["negative_results"] == 4
    monkeypatch.delenv("EXPGRAPH_PRESUMED_DEAD_AFTER")
    code, out, err = cli("import", "sacred", str(tmp_path / "runs"), "--no-validate", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["negative_results"] == 5


def test_a_sigkilled_wandb_run_without_exit_record_is_presumed_dead_a_day_after_its_last_row(
        memory_store: Store) -> None:
    source = str(FIXTURES / "wandb" / "wandb")
    [killed] = [r for r in build_batch(IMPORTERS["wandb"](source), FailureClassifier([])).runs
                if r.native_id == "kill0001"]
    assert killed.last_seen is not None
    run_import(memory_store, IMPORTERS["wandb"](source), liveness=Liveness(killed.last_seen + timedelta(hours=23)))
    assert _inferred(memory_store) == {}
    run_import(memory_store, IMPORTERS["wandb"](source), liveness=Liveness(killed.last_seen + timedelta(hours=25)))
    [(name, (status, inferred, seen))] = _inferred(memory_store).items()
    assert (name, status, inferred) == ("killed", "running", "presumed-dead")
    assert datetime.fromisoformat(seen) == killed.last_seen
