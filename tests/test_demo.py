"""The demo catalog: built from the bundled real-tracker stores through the registered importers, then served."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from expgraph.demo import EXAMPLES, build_demo, example_sources
from expgraph.namespaces import sparql_prologue
from expgraph.store import EmbeddedStore
from loopback import free_port


def test_bundled_examples_exist() -> None:
    sources = example_sources()
    assert {"mlflow", "sacred", "records"} <= {source.tracker for source in sources}
    for source in sources:
        assert (EXAMPLES / source.path).exists(), f"bundled example {source.path} is missing"


def test_demo_builds_a_catalog_with_failures_and_negative_results_idempotently(cli, demo_catalog) -> None:
    store, report = demo_catalog  # built by `demo --no-serve --store DIR --format json` (tests/conftest.py)
    counts = report["counts"]
    assert counts["runs"] >= 20
    assert counts["failed_runs"] >= 3
    assert counts["projects"] >= 2
    assert counts["trackers"] >= 3
    assert counts["negative_results"] >= counts["failed_runs"]
    assert sum(source["runs"] for source in report["sources"]) == counts["runs"]
    with EmbeddedStore(store) as catalog:  # the hand-written result, with its lesson, links to a tracker's run
        rows = catalog.select(sparql_prologue() + """SELECT ?result ?lesson WHERE {
            ?result a eg:NegativeResult ; eg:resultKind/skos:notation "null-effect" ; eg:lessonLearned ?lesson }""")
        assert any("epochs" in row["lesson"].value for row in rows)
    # building the same named store again replaces its sources instead of adding them twice
    again = json.loads(cli("demo", "--no-serve", "--store", str(store), "--format", "json")[1])
    assert again["counts"] == counts
    assert not any(source["changed"] for source in again["sources"])


def test_missing_trackers_are_skipped_with_a_message(memory_store, tmp_path: Path) -> None:
    root = tmp_path / "examples"
    (root / "records").mkdir(parents=True)
    shutil.copy(EXAMPLES / "records" / "lab-notebook.yaml", root / "records")
    (root / "examples.toml").write_text(
        '[[source]]\ntracker = "no-such-tracker"\npath = "x"\n\n'
        '[[source]]\ntracker = "records"\npath = "records/gone.yaml"\n\n'
        '[[source]]\ntracker = "records"\npath = "records/lab-notebook.yaml"\n'
    )
    report = build_demo(memory_store, tmp_path / "work", root=root)
    assert [source.path for source, _ in report.imported] == ["records/lab-notebook.yaml"]
    assert len(report.skipped) == 2
    assert "no-such-tracker: no importer" in report.skipped[0]
    assert "gone.yaml is missing" in report.skipped[1]
    assert report.counts["negative_results"] == 2



@pytest.mark.skipif(sys.platform == "win32", reason="stops the server with SIGINT")
def test_demo_serves_the_catalog_and_cleans_up(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "EXPGRAPH_CONFIG": str(tmp_path / "none.toml")}
    process = subprocess.Popen(
        [sys.executable, "-c", "from expgraph.cli import main; main()", "demo", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    try:
        deadline, answer = time.monotonic() + 300, None  # building the demo first: minutes on a busy machine
        while time.monotonic() < deadline and process.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/settings.json", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert answer is not None and answer.status_code == 200, process.stderr.read() if process.poll() else ""
        assert answer.json()["port"]["value"] == port
    finally:
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=30)
    store = re.search(r"demo catalog at (\S+):", stdout)
    assert store is not None, stdout
    assert not Path(store.group(1)).exists()  # the temporary store is removed when the server stops
