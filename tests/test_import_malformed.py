"""Hostile or damaged input a security review fed the importers (issue 11, items 6 and 7): each must end in a
one-line error naming the file (or a skipped run with ``--skip-invalid``), never a traceback, a hang or gigabytes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from expgraph.catalog import prepare
from expgraph.failures import FailureClassifier
from expgraph.importers import IMPORTERS, Collector, SourceError, build_batch
from expgraph.importers.base import MAX_ALIAS_NODES, load_yaml
from expgraph.records import ImportBatch
from expgraph.store import EmbeddedStore

FIXTURES = Path(__file__).parent / "fixtures"


def _batch(tracker: str, source: Path, *, skip_invalid: bool = False) -> tuple[ImportBatch, Collector]:
    collector = Collector(skip_invalid=skip_invalid)
    with prepare(EmbeddedStore()) as store:
        return build_batch(IMPORTERS[tracker](str(source), collector=collector),
                           FailureClassifier.from_store(store)), collector


@pytest.fixture
def sacred(tmp_path: Path) -> Path:
    target = tmp_path / "sacred"
    shutil.copytree(FIXTURES / "sacred" / "runs", target)
    return target


def _edit(path: Path, change) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def _deep(depth: int) -> str:
    return '{"seed": 1, "deep": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize("skip_invalid", [False, True])
def test_sacred_config_nested_100k_deep_is_an_error_naming_the_file(sacred: Path, skip_invalid: bool) -> None:
    (sacred / "2" / "config.json").write_text(_deep(100_000), encoding="utf-8")
    if not skip_invalid:
        with pytest.raises(SourceError, match=r"2/config\.json: .*nested too deeply"):
            _batch("sacred", sacred)
        return
    batch, collector = _batch("sacred", sacred, skip_invalid=True)
    assert "2" not in {run.native_id for run in batch.runs} and len(batch.runs) > 3
    assert any("2/config.json" in line for line in collector.skipped)


def test_sacred_config_nested_just_under_the_parser_limit_is_an_error_not_a_traceback(sacred: Path) -> None:
    """Deep enough for the JSON parser, too deep for the code that flattens and prints it."""
    (sacred / "2" / "config.json").write_text(_deep(960), encoding="utf-8")
    with pytest.raises(SourceError, match=r"sacred/2(/config\.json)?: .*nested too deeply"):
        _batch("sacred", sacred)


@pytest.mark.parametrize("skip_invalid", [False, True])
def test_sacred_host_that_is_a_string_is_an_error_naming_the_file(sacred: Path, skip_invalid: bool) -> None:
    _edit(sacred / "3" / "run.json", lambda data: data.update(host="gpu-box-7"))
    if not skip_invalid:
        with pytest.raises(SourceError, match=r"3/run\.json: 'host' should be an object, not str"):
            _batch("sacred", sacred)
        return
    batch, collector = _batch("sacred", sacred, skip_invalid=True)
    assert "3" not in {run.native_id for run in batch.runs}
    assert any("3/run.json" in line for line in collector.skipped)


@pytest.mark.parametrize("field", ["start_time", "stop_time", "heartbeat"])
def test_sacred_bad_date_names_the_file_and_field(sacred: Path, field: str) -> None:
    _edit(sacred / "3" / "run.json", lambda data: data.update({field: "yesterday-ish", "status": "RUNNING"}
                                                                     if field == "heartbeat" else {field: "31/02/24"}))
    with pytest.raises(SourceError, match=rf"3/run\.json: {field} '.*' is not an ISO 8601 date"):
        _batch("sacred", sacred)


def test_sacred_metric_timestamp_that_is_not_a_date_names_the_file(sacred: Path) -> None:
    def change(data: dict) -> None:
        series = next(iter(data.values()))
        series["timestamps"] = [12] * len(series["timestamps"])
    _edit(sacred / "3" / "metrics.json", change)
    with pytest.raises(SourceError, match=r"3/metrics\.json: metric .* timestamp 12 is not an ISO 8601"):
        _batch("sacred", sacred)


@pytest.mark.parametrize("value", [["a", "list"], 42, "a string"])
def test_sacred_fields_of_the_wrong_type_are_errors_naming_the_run(sacred: Path, value: object) -> None:
    """What no explicit check foresaw still ends in one line naming the run (the safety net)."""
    def change(data: dict) -> None:
        data["experiment"]["dependencies"] = {"numpy": value}
        data["host"]["os"] = value
    _edit(sacred / "3" / "run.json", change)
    try:
        _batch("sacred", sacred)
    except SourceError as error:
        assert "sacred/3" in str(error)


def test_random_bytes_as_a_tfevents_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    run = tmp_path / "logs" / "run"
    run.mkdir(parents=True)
    (run / "events.out.tfevents.1.host").write_bytes(bytes(range(256)) * 12)
    with pytest.raises(SourceError, match=r"events\.out\.tfevents\.1\.host: not a TensorBoard event file"):
        _batch("tensorboard", tmp_path / "logs")
    batch, collector = _batch("tensorboard", tmp_path / "logs", skip_invalid=True)
    assert batch.runs == () and any("not a TensorBoard event file" in line for line in collector.skipped)


def _bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_is_refused_quickly() -> None:
    with pytest.raises(SourceError, match=r"bomb\.yaml: not valid YAML at line \d+: aliases expand to more than"):
        load_yaml("bomb.yaml", _bomb())


def test_yaml_recursive_alias_is_refused() -> None:
    with pytest.raises(SourceError, match="recursive"):
        load_yaml("loop.yaml", "a: &a [1, *a]\n")


def test_yaml_aliases_within_the_bound_still_load() -> None:
    text = "base: &b {lr: 0.1, layers: [64, 64]}\n" + "".join(f"run{i}: *b\n" for i in range(MAX_ALIAS_NODES // 10))
    data = load_yaml("ok.yaml", text)
    assert data["run0"] == {"lr": 0.1, "layers": [64, 64]} and len(data) == MAX_ALIAS_NODES // 10 + 1


def test_records_file_with_an_alias_bomb_is_an_error_naming_the_file(tmp_path: Path) -> None:
    """3 GB in 19.5 s before: the records parser walks the composed document as a tree."""
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb() + "project: p\nid: x\ntitle: t\nresult_kind: refutes\nlessons: *a8\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"bomb\.yaml: line \d+: not valid YAML: aliases expand"):
        _batch("records", path)


def test_records_file_nested_too_deeply_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("project: p\nid: x\ntitle: t\nresult_kind: refutes\nlessons: " + "[" * 5000 + "]" * 5000 + "\n",
                    encoding="utf-8")
    with pytest.raises(SourceError, match=r"deep\.yaml: .*nested too deeply"):
        _batch("records", path)


def test_wandb_config_yaml_alias_bomb_is_an_error_naming_the_file(tmp_path: Path) -> None:
    source = tmp_path / "wandb"
    shutil.copytree(FIXTURES / "wandb" / "sdk-0.16" / "wandb", source)
    for log in source.glob("*/*.wandb"):  # without a log, the SDK 0.16 config.yaml is the configuration
        log.unlink()
    config = sorted(source.glob("*/files"))[0] / "config.yaml"
    config.write_text(_bomb(), encoding="utf-8")
    with pytest.raises(SourceError, match=r"config\.yaml: not valid YAML at line \d+: aliases expand"):
        _batch("wandb", source)


def test_wandb_metadata_of_the_wrong_shape_is_an_error_naming_the_file(tmp_path: Path) -> None:
    source = tmp_path / "wandb"
    shutil.copytree(FIXTURES / "wandb" / "sdk-0.16" / "wandb", source)
    metadata = sorted(source.glob("*/files/wandb-metadata.json"))[0]
    metadata.write_text(json.dumps({"git": "not an object", "startedAt": "soon"}), encoding="utf-8")
    with pytest.raises(SourceError, match=r"wandb-metadata\.json: 'git' should be an object"):
        _batch("wandb", source)
    metadata.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(SourceError, match=r"wandb-metadata\.json: not readable JSON \(nested too deeply\)"):
        _batch("wandb", source)
