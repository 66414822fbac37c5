"""Hand-written negative-result records: the template, strict validation with line numbers, new terms."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from expgraph.catalog import prepare, run_import
from expgraph.failures import FailureClassifier
from expgraph.importers import Collector, SourceError, build_batch
from expgraph.importers.records import TEMPLATE, RecordsImporter
from expgraph.records import ImportBatch
from expgraph.store import EmbeddedStore, Store

FIXTURES = Path(__file__).parent / "fixtures" / "records"
DOCS_TEMPLATE = Path(__file__).parents[1] / "docs" / "templates" / "negative-result.yaml"
SKOS = "http://www.w3.org/2004/02/skos/core#"
EG = "https://w3id.org/expgraph#"


def _batch(path: Path, *, skip_invalid: bool = False) -> ImportBatch:
    with prepare(EmbeddedStore()) as store:
        importer = RecordsImporter(str(path), collector=Collector(skip_invalid=skip_invalid))
        return build_batch(importer, FailureClassifier.from_store(store))


def _write(tmp_path: Path, text: str, name: str = "r.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_docs_template_is_what_new_record_writes() -> None:
    assert DOCS_TEMPLATE.read_text(encoding="utf-8") == TEMPLATE


def test_yaml_record_maps_every_section() -> None:
    batch = _batch(FIXTURES / "negative-results.yaml")
    warmup = next(r for r in batch.results if r.native_id == "warmup-does-not-fix-divergence")
    assert warmup.negative and warmup.kind == "refutes"
    assert (warmup.failure_mode, warmup.suspected_cause) == ("numerical-instability", "hyperparameters")
    assert warmup.hypothesis.text.startswith("With warm-up") and warmup.expected_outcome.startswith("Final")
    assert warmup.deviations == ("Ran 3 seeds instead of the planned 5 (GPU budget).",)
    assert warmup.lessons[0].startswith("Warm-up only delays")
    assert [(r.tracker, r.native_id) for r in warmup.run_refs] == [("sacred", "2")]
    assert warmup.informs == ("gradient-clipping-follow-up",)
    experiment = next(e for e in batch.experiments if e.native_id == warmup.native_id)
    assert experiment.project == "vision" and experiment.research_question.startswith("Can a 5-epoch")
    assert experiment.method.startswith("ResNet-18")
    (setup,) = batch.runs
    assert setup.datasets[0].checksum.value == "c58f30108f718f92721af3b95e74349a"
    assert setup.code.commit == "0123456789abcdef0123456789abcdef01234567"
    assert setup.environment.python_version == "3.11"
    assert setup.started.isoformat() == "2024-03-01T00:00:00+00:00"


def test_json_and_csv_records() -> None:
    (oom,) = _batch(FIXTURES / "negative-results.json").results
    assert (oom.kind, oom.failure_mode, oom.suspected_cause) == ("execution-failure", "out-of-memory",
                                                                 "gpu-memory-management")
    csv_batch = _batch(FIXTURES / "negative-results.csv")
    leak = next(r for r in csv_batch.results if r.native_id == "xgb-leak")
    assert leak.lessons == ("Drop id columns before CV", "Check feature importances")
    assert [(r.tracker, r.native_id) for r in leak.run_refs] == [("sacred", "1")]
    assert csv_batch.runs[0].datasets[0].checksum.algorithm == "md5"


def test_a_new_term_is_reported_and_minted_under_the_project(memory_store: Store) -> None:
    outcome = run_import(memory_store, RecordsImporter(str(FIXTURES / "negative-results.yaml")))
    assert any("clipping saturation" in w and "line 40" in w for w in outcome.warnings)
    rows = memory_store.select(f"""
        SELECT ?concept ?broader WHERE {{
          ?result <{EG}failureMode> ?concept . ?concept <{SKOS}notation> "clipping-saturation" ;
                  <{SKOS}broader> ?broader ; <{EG}inProject> ?project .
        }}""")
    assert len(rows) == 1
    assert rows[0]["concept"].value.endswith("/project/vision/failure-mode/clipping-saturation")
    assert rows[0]["broader"].value.endswith("/vocab/failure-mode/scientific-outcome")
    rolled_up = memory_store.select(f"""
        SELECT ?result WHERE {{ ?result <{EG}failureMode>/<{SKOS}broader>* ?top .
                                ?top <{SKOS}notation> "scientific-outcome" }}""")
    assert len(rolled_up) == 1


GOOD = """\
project: p
id: r1
title: A record
result_kind: refutes
"""


@pytest.mark.parametrize(("text", "line", "field", "problem"), [
    (GOOD + "colour: blue\n", 5, "colour", "unknown key"),
    (GOOD + "setup:\n  method: m\n  gpu: a100\n", 7, "setup.gpu", "unknown key"),
    (GOOD + "lessons: one lesson\n", 5, "lessons", "expected a list"),
    (GOOD + "setup:\n  code:\n    commit: 1234567\n", 7, "setup.code.commit", "quote it"),
    (GOOD + "setup:\n  environment:\n    python: 3.10\n", 7, "setup.environment.python", "expected a string"),
    (GOOD.replace("refutes", "disproves"), 4, "result_kind", "is not one of"),
    (GOOD.replace("title: A record\n", ""), 1, "title", "required"),
    (GOOD + "setup:\n  datasets:\n    - name: d\n      checksum: c58f30\n", 7, "setup.datasets[0].checksum",
     "ALGORITHM:VALUE"),
    (GOOD + "failure_mode: {term: odd, broader: not-a-concept}\n", 5, "failure_mode.broader", "not in"),
    (GOOD + "runs:\n  - {tracker: mlflow, run: abc}\n", 6, "runs[0].run", "unknown key"),
    (GOOD + "id: again\n", 5, "id", "given twice"),
    (GOOD + "date: last tuesday\n", 5, "date", "expected a date"),
])
def test_errors_name_the_field_and_the_line(tmp_path: Path, text: str, line: int, field: str, problem: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SourceError) as error:
        _batch(path)
    message = str(error.value)
    assert message.startswith(str(path)) and f"line {line}" in message and f"'{field}'" in message, message
    assert problem in message


def test_json_errors_have_lines_too(tmp_path: Path) -> None:
    path = _write(tmp_path, '{\n  "project": "p",\n  "id": "r",\n  "title": "t",\n  "result_kind": "refutes",\n'
                            '  "lessons": 3\n}\n', "r.json")
    with pytest.raises(SourceError, match=r"line 6, field 'lessons'"):
        _batch(path)


def test_csv_errors_name_the_row_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "project,id,title,result_kind,colour\np,a,t,refutes,\np,b,t,refutes,red\n", "r.csv")
    with pytest.raises(SourceError, match=r"line 3, field 'colour': unknown key"):
        _batch(path)


def test_duplicate_ids_and_skip_invalid(tmp_path: Path) -> None:
    path = _write(tmp_path, f"- {GOOD.replace(chr(10), chr(10) + '  ')}\n- {GOOD.replace(chr(10), chr(10) + '  ')}")
    with pytest.raises(SourceError, match="already used on line 2"):
        _batch(path)
    partial = _batch(path, skip_invalid=True)
    assert len(partial.results) == 1 and any("already used" in w for w in partial.warnings)


def test_the_blank_template_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="field 'project': required"):
        _batch(_write(tmp_path, TEMPLATE))


def test_new_record_command(cli, tmp_path: Path) -> None:
    code, _, err = cli("new-record", "mine.yaml")
    assert code == 0, err
    assert (tmp_path / "mine.yaml").read_text(encoding="utf-8") == TEMPLATE
    code, _, _ = cli("new-record", "mine.yaml")
    assert code != 0
    code, out, _ = cli("new-record", "-")
    assert code == 0 and out == TEMPLATE


def test_the_command_line_prints_one_line_with_file_line_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD + "colour: blue\n")
    command = [sys.executable, "-c", "from expgraph.cli import main; main()", "--store", str(tmp_path / "s"),
               "import", "records", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False,
                          env={"PATH": "", "COLUMNS": "300", "HOME": str(tmp_path)})
    assert done.returncode == 2
    assert f"{path}: line 5, field 'colour': unknown key" in done.stderr and "Traceback" not in done.stderr


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"expected a \.yaml"):
        RecordsImporter(str(_write(tmp_path, "x", "r.txt"))).identity()
    with pytest.raises(SourceError, match="no such file"):
        RecordsImporter(str(tmp_path / "none.yaml")).identity()


def test_records_need_no_store_of_their_own() -> None:
    with prepare(EmbeddedStore()) as store:
        outcome = run_import(store, RecordsImporter(str(FIXTURES / "negative-results.csv")))
    assert outcome.negative_results == 2
