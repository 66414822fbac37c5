"""Importers are found through the ``expgraph.importers`` entry-point group: ours, and a plugin package's.

The plugin here is a real installed distribution as pip lays it out (a package and its ``.dist-info`` with
``entry_points.txt``) in a folder put on the path; the CLI runs in a subprocess with that folder on PYTHONPATH.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from expgraph.importers import IMPORTERS
from expgraph.importers.base import Importer, MissingDependency
from expgraph.importers.mlflow import MlflowImporter
from expgraph.importers.registry import BUILT_IN, GROUP, ImporterRegistry, entry_points

ROOT = Path(__file__).resolve().parent.parent

TOY = '''
"""A toy tracker: a JSON file {"runs": [{"id": ..., "status": ...}]}."""
import json
from pathlib import Path

from expgraph.importers.base import Importer, SourceError, map_status
from expgraph.records import Experiment, Run, RunStatus


class ToyImporter(Importer):
    """Import a toy tracker's runs.json."""

    tracker = "toy"
    source_help = "A toy runs.json."

    def identity(self):
        return str(Path(self.source).resolve())

    def fingerprint_roots(self):
        return [Path(self.identity())]

    def records(self):
        data = json.loads(Path(self.source).read_text())
        yield Experiment(native_id="toy", name="toy experiment")
        for run in data["runs"]:
            yield Run(native_id=run["id"], experiment_id="toy",
                      status=map_status(run["status"], {"OK": RunStatus.FINISHED, "BAD": RunStatus.FAILED}))
'''


def _plugin(folder: Path, name: str, module: str, entry_points_txt: str) -> Path:
    """A distribution ``name`` installed into ``folder``: its module and its metadata, as pip writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(module, encoding="utf-8")
    info = folder / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points_txt), encoding="utf-8")
    return folder


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site"
    _plugin(folder, "expgraph_toy", TOY, f"""
        [{GROUP}]
        toy = expgraph_toy:ToyImporter
        mlflow = expgraph_toy:ToyImporter
        """)
    _plugin(folder, "expgraph_broken", "import a_package_that_is_not_installed\n", f"""
        [console_scripts]
        broken = expgraph_broken:main

        [{GROUP}]
        broken = expgraph_broken:BrokenImporter
        """)
    monkeypatch.syspath_prepend(str(folder))
    return folder


def test_ours_are_declared_as_entry_points_and_built_in() -> None:
    """pyproject.toml declares what BUILT_IN names (BUILT_IN covers metadata older than the code)."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["entry-points"][GROUP]
    assert declared == BUILT_IN
    assert list(IMPORTERS) == sorted(BUILT_IN)
    for name, cls in IMPORTERS.items():
        assert issubclass(cls, Importer) and cls.tracker == name


def test_built_in_importers_without_any_metadata() -> None:
    registry = ImporterRegistry(group="expgraph.no-such-group")
    assert set(registry) == set(BUILT_IN) and registry["sacred"].tracker == "sacred"


def test_a_plugin_package_adds_a_tracker(plugins: Path) -> None:
    registry = ImporterRegistry()
    assert {"toy", "broken"} <= set(registry)
    assert registry["toy"].__module__ == "expgraph_toy"
    assert registry["mlflow"] is MlflowImporter  # a built-in name is not taken over


def test_a_plugin_that_cannot_be_imported_fails_when_used_only(plugins: Path) -> None:
    registry = ImporterRegistry()
    assert "broken" in registry  # listed without importing it
    with pytest.raises(MissingDependency, match=r"'broken' importer .*a_package_that_is_not_installed"):
        registry["broken"]


def test_entry_points_are_read_as_importlib_reads_them(plugins: Path) -> None:
    theirs = {point.name: point.value for point in importlib.metadata.entry_points(group="console_scripts")}
    assert entry_points("console_scripts") == theirs and theirs["broken"] == "expgraph_broken:main"


def _cli(plugins: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(plugins)]), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", "from expgraph.cli import main; main()", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_the_cli_imports_with_a_plugin_and_names_a_broken_one(plugins: Path, tmp_path: Path) -> None:
    source = tmp_path / "runs.json"
    source.write_text(json.dumps({"runs": [{"id": "a", "status": "OK"}, {"id": "b", "status": "BAD"}]}))
    store = tmp_path / "store"
    done = _cli(plugins, "--store", str(store), "import", "toy", str(source), "--no-validate", "--format", "json",
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["runs"], summary["failures"], summary["negative_results"]) == (2, 1, 1)
    broken = _cli(plugins, "import", "broken", "x", cwd=tmp_path)
    assert broken.returncode != 0
    assert "a_package_that_is_not_installed" in broken.stderr and "Traceback" not in broken.stderr
    listing = _cli(plugins, "import", "--help", cwd=tmp_path)
    assert listing.returncode == 0 and "toy" in listing.stdout and "broken" in listing.stdout
