"""Every parameter of every real fixture comes back from the catalog with the tracker's own text.

The store prints numbers canonically (``"0.0"^^xsd:double`` comes back ``"0"``), so the mapper keeps the tracker's
text as ``eg:originalValue`` whenever the literal would read otherwise. Here each tracker's parameters are read with
the tracker's own reader (MlflowClient, DVC's Python API, TensorBoard's event loader and protos, W&B's protos) or
the raw files (Sacred's ``config.json``, number tokens as written), and compared with what the catalog gives back:
``eg:originalValue`` when present, else the lexical form of ``mls:hasValue``.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyoxigraph
import pytest

import contract_trackers as ct
from expgraph.catalog import run_import
from expgraph.importers import IMPORTERS, Collector
from expgraph.lexical import original_value, stored_text
from expgraph.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
XSD = "http://www.w3.org/2001/XMLSchema#"
TEXTS = """PREFIX eg: <https://w3id.org/expgraph#>
PREFIX mls: <http://www.w3.org/ns/mls#>
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?run ?key ?value ?original WHERE {
  ?r a eg:Run ; dct:identifier ?run ; mls:hasInput ?s .
  ?s mls:specifiedBy/rdfs:label ?key ; mls:hasValue ?value .
  OPTIONAL { ?s eg:originalValue ?original } }"""
SEEDS = """PREFIX eg: <https://w3id.org/expgraph#>
PREFIX dct: <http://purl.org/dc/terms/>
SELECT ?run ?seed WHERE { ?r a eg:Run ; dct:identifier ?run ; eg:seed ?seed }"""


def _catalog_texts(store: Store) -> dict[tuple[str, str], str]:
    rows = store.select(TEXTS)
    return {(row["run"].value, row["key"].value): (row["original"] if "original" in row else row["value"]).value
            for row in rows}


def _text(value: Any) -> str:
    """The text of a value a reader gives typed: JSON's spelling (what the trackers' JSON and YAML writers print)."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return {math.inf: "INF", -math.inf: "-INF"}.get(value, "NaN")
    return json.dumps(value, ensure_ascii=False)


def _flat(config: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in config.items():
        if isinstance(value, Mapping) and value:
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


# -- each tracker's own reading of its parameters: {(run native id, key): text} ----------------------------------


def _mlflow(uri: str) -> dict[tuple[str, str], str]:
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    return {(run.info.run_id, key): value
            for run in client.search_runs(experiments, run_view_type=ViewType.ALL, max_results=1000)
            for key, value in run.data.params.items()}


class _Token(str):
    """A JSON number as written in the file."""


def _sacred(root: Path) -> dict[tuple[str, str], str]:
    texts = {}
    for config in sorted(root.glob("*/config.json")):
        raw = config.read_text(encoding="utf-8")
        # numbers as written, lists as JSON (read plainly: tokens would print as strings)
        for (key, token), (_, plain) in zip(_flat(json.loads(raw, parse_float=_Token, parse_int=_Token)),
                                            _flat(json.loads(raw)), strict=True):
            if key != "seed":  # the run's seed, not a parameter (checked below)
                texts[(config.parent.name, key)] = _text(plain if isinstance(plain, list) else token)
    return texts


def _tensorboard(logdir: Path) -> dict[tuple[str, str], str]:
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.hparams import plugin_data_pb2

    texts = {}
    for events in sorted(logdir.rglob("events.out.tfevents.*")):
        run = next(folder for folder in [*reversed(events.relative_to(logdir).parents)][1:]
                   if any((logdir / folder).glob("events.out.tfevents.*")))
        for event in EventFileLoader(str(events)).Load():
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != "hparams":
                    continue
                data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
                for key, hparam in data.session_start_info.hparams.items():
                    kind = hparam.WhichOneof("kind")
                    texts[(run.as_posix(), key)] = _text(getattr(hparam, kind))
    return texts


def _wandb(root: Path) -> dict[tuple[str, str], str]:
    from wandb.proto import wandb_internal_pb2

    from expgraph.importers.wandb_log import chunks

    texts: dict[tuple[str, str], str] = {}
    for log in sorted(root.glob("*/*.wandb")):  # directories sort by start time: a resumed run updates the earlier
        payloads, _ = chunks(log, log.read_bytes())
        run_id = None
        for payload in payloads:
            record = wandb_internal_pb2.Record.FromString(payload)
            kind = record.WhichOneof("record_type")
            config = record.run.config if kind == "run" else record.config if kind == "config" else None
            run_id = record.run.run_id if kind == "run" else run_id
            for item in config.update if config is not None else ():
                key = ".".join(item.nested_key) if item.nested_key else item.key
                if key.startswith("_wandb"):
                    continue
                # numbers as written, lists as JSON (read plainly: tokens would print as strings)
                tokens = dict(_flat({key: json.loads(item.value_json, parse_float=_Token, parse_int=_Token)}))
                for (name, token), (_, plain) in zip(tokens.items(), _flat({key: json.loads(item.value_json)}),
                                                     strict=True):
                    if plain is not None:
                        texts[(run_id, name)] = _text(plain if isinstance(plain, list) else token)
    return texts


def _dvc(repo: Path) -> dict[tuple[str, str], str]:
    from dvc.repo import Repo

    texts = {}
    with Repo(str(repo)) as dvc:
        rows = [state.dumpd() for state in dvc.experiments.show(all_commits=True)]
    for baseline in rows:
        for experiment in baseline.get("experiments") or []:
            for row in experiment.get("revs") or []:
                name = experiment.get("name") or row.get("name") or row["rev"]
                for file, content in ((row.get("data") or {}).get("params") or {}).items():
                    for key, value in _flat(content.get("data") or {}):
                        if value is not None:
                            texts[(name, key if file == "params.yaml" else f"{file}:{key}")] = _text(value)
    return texts


def _sources(tmp_path: Path) -> list[tuple[str, str, Any]]:
    shutil.copytree(FIXTURES / "mlflow" / "sqlite", tmp_path / "sqlite")
    shutil.copytree(FIXTURES / "dvc", tmp_path / "dvc")
    sqlite = f"sqlite:///{tmp_path / 'sqlite' / 'mlflow.db'}"
    repo = ct.dvc_source(tmp_path / "dvc")
    return [
        ("mlflow", str(FIXTURES / "mlflow" / "mlruns"), lambda: _mlflow(str(FIXTURES / "mlflow" / "mlruns"))),
        ("mlflow", sqlite, lambda: _mlflow(sqlite)),
        ("sacred", str(FIXTURES / "sacred" / "runs"), lambda: _sacred(FIXTURES / "sacred" / "runs")),
        ("tensorboard", str(FIXTURES / "tensorboard" / "logdir"),
         lambda: _tensorboard(FIXTURES / "tensorboard" / "logdir")),
        ("wandb", str(FIXTURES / "wandb" / "wandb"), lambda: _wandb(FIXTURES / "wandb" / "wandb")),
        ("dvc", repo, lambda: _dvc(Path(repo))),
    ]


@pytest.mark.parametrize("index", range(6), ids=["mlflow-file", "mlflow-sqlite", "sacred", "tensorboard", "wandb",
                                                 "dvc"])
def test_every_parameter_comes_back_with_the_trackers_text(index: int, tmp_path: Path, memory_store: Store,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 reads a file store only when told to
    tracker, source, read = _sources(tmp_path)[index]
    run_import(memory_store, IMPORTERS[tracker](source, collector=Collector()))
    expected = read()
    assert expected, f"the {tracker} fixture has parameters"
    assert _catalog_texts(memory_store) == expected


def test_sacreds_seed_is_the_runs_seed(memory_store: Store) -> None:
    root = FIXTURES / "sacred" / "runs"
    run_import(memory_store, IMPORTERS["sacred"](str(root), collector=Collector()))
    seeds = {config.parent.name: json.loads(config.read_text(encoding="utf-8")).get("seed")
             for config in root.glob("*/config.json")}
    assert {row["run"].value: int(row["seed"].value) for row in memory_store.select(SEEDS)} == \
        {run: seed for run, seed in seeds.items() if isinstance(seed, int)}


def _doubles() -> list[float]:
    rng = random.Random(7)
    fixed = [0.0, -0.0, 1.0, -3.0, 1e-05, 2.5e-07, 0.1, 1e16, 1e20, 1e21, 1e22, 1.5e300, 5e-324, 123456789.125]
    return fixed + [struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0] for _ in range(2000)] \
        + [10 ** rng.randint(-30, 30) * rng.random() for _ in range(1000)] \
        + [rng.getrandbits(53) / 2 ** rng.randint(1, 40) for _ in range(2000)]  # few exact digits: half-way ties


def test_stored_text_is_what_the_store_gives_back() -> None:
    """``stored_text`` predicts the store's canonical form; checked against pyoxigraph itself."""
    values: list[Any] = [v for v in _doubles() if math.isfinite(v)] + [math.nan, math.inf, -math.inf,
                                                                        True, False, 0, -7, 2**70]
    store = pyoxigraph.Store()
    subject, graph = pyoxigraph.NamedNode("urn:s"), pyoxigraph.NamedNode("urn:g")
    from expgraph.mapping import scalar

    for index, value in enumerate(values):
        store.add(pyoxigraph.Quad(subject, pyoxigraph.NamedNode(f"urn:p{index}"), scalar(value), graph))
    given = {int(quad.predicate.value[5:]): quad.object.value for quad in store}
    assert [given[i] for i in range(len(values))] == [stored_text(value) for value in values]


@pytest.mark.parametrize(("value", "original", "kept"), [
    ("0.0", "0.0", "0.0"), (0.0, None, "0.0"), (1e-05, None, "1e-05"), (0.25, None, None), (True, "True", "True"),
    (True, None, None), (32, "32.0", "32.0"), (5, "+5", "+5"), (7, None, None), ("adam", None, None),
])
def test_original_value_is_kept_only_when_the_store_would_read_otherwise(value, original, kept) -> None:
    value = float(value) if isinstance(value, str) and value[0].isdigit() else value
    assert original_value(value, original) == kept


def test_mlflow_parameters_named_as_a_seed_are_the_runs_seed(tmp_path: Path, memory_store: Store,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A small store written by MLflow itself: seed, random_seed and rng_seed params become eg:seed, and
    ``validate`` no longer warns "random seed" for those runs."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    from expgraph.completeness import SHAPES
    from expgraph.validation import validate

    client = MlflowClient(tracking_uri=str(tmp_path / "mlruns"))
    experiment = client.create_experiment("seeds")
    logged = {}
    for name, value in [("seed", "7"), ("random_seed", "8"), ("rng_seed", "9"), ("seed", "none"), (None, None)]:
        run = client.create_run(experiment)
        if name:
            client.log_param(run.info.run_id, name, value)
        client.log_param(run.info.run_id, "lr", "0.1")
        client.set_terminated(run.info.run_id)
        logged[run.info.run_id] = int(value) if value and value.isdigit() else None
    run_import(memory_store, IMPORTERS["mlflow"](str(tmp_path / "mlruns"), collector=Collector()))
    seeds = {row["run"].value: int(row["seed"].value) for row in memory_store.select(SEEDS)}
    assert seeds == {run: seed for run, seed in logged.items() if seed is not None}
    warned = {result.focus.rsplit("/", 1)[-1] for result in validate(memory_store).results
              if result.shape == f"{SHAPES}Run-seed"}
    assert warned == {run for run, seed in logged.items() if seed is None}


def test_metric_values_come_back_with_the_trackers_text(tmp_path: Path, memory_store: Store,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A metric's final value as MLflow gives it (a float, written to its files as Python prints it), read back from
    the catalog (``1.0`` would stay ``1.0``, not the store's ``1``: see the cases below)."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    source = str(FIXTURES / "mlflow" / "mlruns")
    run_import(memory_store, IMPORTERS["mlflow"](source, collector=Collector()))
    client = MlflowClient(tracking_uri=source)
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    expected = {(run.info.run_id, key): _text(value)
                for run in client.search_runs(experiments, run_view_type=ViewType.ALL, max_results=1000)
                for key, value in run.data.metrics.items()}
    rows = memory_store.select(TEXTS.replace("mls:hasInput", "mls:hasOutput"))
    found = {(row["run"].value, row["key"].value): (row["original"] if "original" in row else row["value"]).value
             for row in rows}
    assert expected and found == expected
