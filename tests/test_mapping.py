"""The mapper: deterministic, percent-safe IRIs and typed values."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from pyoxigraph import Literal

from expgraph.mapping import Minter, batch_statements, date_time, double, map_batch, scalar, source_graph
from expgraph.mapping import ntriples as nt
from expgraph.namespaces import DCAT, EG, PROV, SCHEMA, SPDX, XSD
from expgraph.records import (
    Agent,
    Checksum,
    CodeVersion,
    DatasetSnapshot,
    Environment,
    Experiment,
    ImportBatch,
    MetricValue,
    ParameterSetting,
    Run,
    RunStatus,
)


def batch(source: str = "/data/mlruns") -> ImportBatch:
    run = Run(
        "r/1 ü",
        "0",
        RunStatus.FAILED,
        params=(ParameterSetting("optim/lr", 0.1), ParameterSetting("名前", "値")),
        metrics=(MetricValue("loss", math.nan, step=2), MetricValue("acc", math.inf)),
    )
    return ImportBatch("mlflow", source, experiments=(Experiment("0", "exp"),), runs=(run,))


def test_same_source_gives_the_same_triples() -> None:
    assert list(map_batch(batch())) == list(map_batch(batch()))


def test_statements_are_written_as_pyoxigraph_prints_triples() -> None:
    """The store's digest is over this text: it must be the canonical form, whichever way the content came."""
    from synthetic import make_batch

    for sample in (batch(), make_batch(30, seed=4)):
        statements = list(batch_statements(sample))
        assert [str(triple) for triple in map_batch(sample)] == statements
        assert len(statements) > 20


@pytest.mark.parametrize("value", ["plain", "", 'a "quote"', "back\\slash", "line\nbreak", "tab\t", "\x00\x1f\x7f",
                                   "é", "名前", "\u2028", "\ufeff", "😀", "tail\\"])
def test_text_literals_are_escaped_as_pyoxigraph_escapes_them(value: str) -> None:
    assert nt.text(value) == str(Literal(value))


def test_other_source_gives_other_iris() -> None:
    assert Minter("mlflow", "/a").run("1") != Minter("mlflow", "/b").run("1")
    assert source_graph("mlflow", "/a") != source_graph("sacred", "/a")


@pytest.mark.parametrize("native_id", ["a/b", "ü ñ", "x?y#z", "<script>", "%41", " ", "日本"])
def test_iris_are_percent_safe(native_id: str) -> None:
    iri = Minter("mlflow", "/a").run(native_id).value
    tail = iri.rsplit("/run/", 1)[1]
    assert "/" not in tail and " " not in tail and "<" not in tail and "#" not in tail
    assert tail.isascii()


def test_distinct_ids_never_collide() -> None:
    mint = Minter("mlflow", "/a")
    ids = ["a/b", "a%2Fb", "a b", "a+b", "A/B"]
    assert len({mint.run(i) for i in ids}) == len(ids)


def test_non_finite_doubles_use_xsd_lexical_forms() -> None:
    assert double(math.nan) == Literal("NaN", datatype=XSD.double)
    assert double(math.inf) == Literal("INF", datatype=XSD.double)
    assert double(-math.inf) == Literal("-INF", datatype=XSD.double)
    assert float(double(0.1).value) == 0.1


def test_scalar_types() -> None:
    assert scalar(True).datatype == XSD.boolean
    assert scalar(3).datatype == XSD.integer
    assert scalar(3.5).datatype == XSD.double
    assert scalar("x").datatype == XSD.string


def test_datetimes_are_utc() -> None:
    local = datetime(2024, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert date_time(local).value == "2024-01-01T10:00:00Z"
    assert date_time(datetime(2024, 1, 1, 12, 0)).value == "2024-01-01T12:00:00Z"


def test_batch_lands_and_is_queryable(memory_store) -> None:
    from expgraph.catalog import store_batch

    outcome = store_batch(memory_store, batch(), location="/data/mlruns")
    assert outcome.changed and outcome.runs == 1
    rows = memory_store.select(
        "SELECT ?key ?v WHERE { ?run <http://www.w3.org/ns/mls#hasInput> ?s . "
        "?s <http://www.w3.org/ns/mls#specifiedBy>/<http://www.w3.org/2000/01/rdf-schema#label> ?key ; "
        "<http://www.w3.org/ns/mls#hasValue> ?v } ORDER BY ?key"
    )
    assert [(r["key"].value, r["v"].value) for r in rows] == [("optim/lr", "0.1"), ("名前", "値")]
    assert not store_batch(memory_store, batch(), location="/data/mlruns").changed


def _configurations(runs: tuple[Run, ...], source: str = "/a") -> dict[str, str | None]:
    """Each run's configuration node (None without one), read back from the mapped triples."""
    sample = ImportBatch("mlflow", source, experiments=(Experiment("0", "exp"),), runs=runs)
    found = {t.subject.value: t.object.value for t in map_batch(sample)
             if t.predicate.value.endswith("#hasConfiguration")}
    return {run.native_id: found.get(Minter("mlflow", source).run(run.native_id).value) for run in runs}


def test_runs_of_the_same_settings_share_a_configuration_across_sources() -> None:
    def run(native_id: str, *params: ParameterSetting) -> Run:
        return Run(native_id, "0", RunStatus.FAILED, params=params)

    runs = (
        run("a", ParameterSetting("lr", 0.001), ParameterSetting("model", "vit"), ParameterSetting("seed", 1)),
        run("b", ParameterSetting("learning_rate", 0.001), ParameterSetting("model", "vit"),
            ParameterSetting("seed", 2)),
        run("c", ParameterSetting("lr", 0.01), ParameterSetting("model", "vit")),
        run("d", ParameterSetting("lr", 0.001), ParameterSetting("model", "vit"), ParameterSetting("amp", True)),
        run("e", ParameterSetting("seed", 3)),
    )
    here, there = _configurations(runs, "/a"), _configurations(runs, "/b")
    assert here["a"] == here["b"] == there["a"]  # seed and the spelling of the learning rate are not compared
    assert len({here["a"], here["c"], here["d"]}) == 3
    assert here["e"] is None  # nothing to compare


def test_a_configuration_is_described_once_per_batch_with_its_settings() -> None:
    params = (ParameterSetting("lr", 0.001), ParameterSetting("flag", True), ParameterSetting("n", 32),
              ParameterSetting("name", 'say "hi"'))
    runs = tuple(Run(str(i), "0", RunStatus.FINISHED, params=params) for i in range(3))
    triples = list(map_batch(ImportBatch("mlflow", "/a", experiments=(Experiment("0", "exp"),), runs=runs)))
    node = next(t.object for t in triples if t.predicate.value.endswith("#hasConfiguration"))
    described = [t for t in triples if t.subject == node]
    assert len(described) == len(set(described)) == 6  # type, label and four settings, once for three runs
    settings = {t.object for t in described if t.predicate.value.endswith("#hasSetting")}
    about = {(t.subject, t.predicate.value.rsplit("#", 1)[1]): t.object for t in triples if t.subject in settings}
    assert len(about) == len([t for t in triples if t.subject in settings])  # each setting described once
    pairs = sorted((about[s, "settingKey"].value, about[s, "settingValue"]) for s in settings)
    assert pairs == [("flag", scalar(True)), ("learning_rate", scalar(0.001)), ("n", scalar(32)),
                     ("name", scalar('say "hi"'))]
    assert sorted(about[s, "label"].value for s in settings) == ["flag=true", "learning_rate=0.001", "n=32",
                                                                'name=say "hi"']


def test_settings_of_other_types_are_other_settings() -> None:
    """32 and "32" are different values to a run's parameters (mls:hasValue), so they are to configurations."""
    def run(native_id: str, value: object) -> Run:
        return Run(native_id, "0", RunStatus.FAILED, params=(ParameterSetting("n", value),))

    found = _configurations((run("int", 32), run("text", "32"), run("again", 32)))
    assert found["int"] == found["again"] != found["text"]


def _lacks(run: Run) -> set[str]:
    triples = map_batch(ImportBatch("mlflow", "/a", experiments=(Experiment("0", "exp"),), runs=(run,)))
    return {t.object for t in triples if t.predicate == EG.lacks}


def test_a_run_states_what_its_record_lacks() -> None:
    bare = Run("bare", "0", RunStatus.RUNNING)
    assert _lacks(bare) == {SCHEMA.SoftwareSourceCode, DCAT.Dataset, SPDX.Checksum, EG.Environment, EG.seed,
                            PROV.Agent}  # a running run has no end time yet: not missing
    assert PROV.End in _lacks(replace(bare, status=RunStatus.FINISHED))  # a finished one should have one
    checked = DatasetSnapshot("mnist", Checksum("md5", "aa" * 16))
    whole = Run("whole", "0", RunStatus.FINISHED, ended=datetime(2024, 1, 1), agent=Agent("ana"),
                code=CodeVersion("c1" * 20), environment=Environment(python_version="3.11"), datasets=(checked,),
                seed=3)
    assert _lacks(whole) == set()
    half_checked = replace(whole, native_id="half", datasets=(checked, DatasetSnapshot("cifar", version="v1")))
    assert _lacks(half_checked) == {SPDX.Checksum}  # one dataset without a checksum is enough


@pytest.mark.parametrize("name", ["seed", "random_seed", "rng_seed"])
def test_a_parameter_named_as_a_seed_is_the_runs_seed(name: str) -> None:
    run = Run("r", "0", RunStatus.FINISHED, params=(ParameterSetting("lr", 0.1), ParameterSetting(name, 42)))
    triples = list(map_batch(ImportBatch("mlflow", "/a", experiments=(Experiment("0", "exp"),), runs=(run,))))
    assert [t.object.value for t in triples if t.predicate == EG.seed] == ["42"]
    assert EG.seed not in _lacks(run)
    text = replace(run, params=(ParameterSetting(name, "none"),))  # not a number: no seed
    assert EG.seed in _lacks(text)
