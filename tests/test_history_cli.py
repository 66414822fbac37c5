"""``expgraph history`` and ``expgraph restore-backup`` in-process, on a real Sacred file store imported twice."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from pyoxigraph import RdfFormat

from expgraph.store import EmbeddedStore

FIXTURE = Path(__file__).parent / "fixtures" / "sacred"


def _two_versions(cli, tmp_path: Path) -> None:
    source = tmp_path / "sacred"
    shutil.copytree(FIXTURE, source)
    assert cli("import", "sacred", str(source / "runs"), "--no-validate")[0] == 0
    shutil.rmtree(source / "runs" / "8")
    assert cli("import", "sacred", str(source / "runs"), "--no-validate")[0] == 0


def test_history_lists_versions_and_what_changed(cli, tmp_path: Path) -> None:
    _two_versions(cli, tmp_path)
    code, out, err = cli("history", "/graph/sacred/", "--changes", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert [v["active"] for v in data["versions"]] == [True, False]
    assert all(v["by"] and v["digest"] and v["triples"] for v in data["versions"])
    assert [r["run"].rsplit("/", 1)[-1] for r in data["changes"]["removed"]] == ["8"]
    assert data["changes"]["added"] == [] and data["changes"]["changed"] == []
    code, out, _ = cli("history", "/graph/sacred/")
    assert code == 0 and "(active)" in out and "removed" not in out  # the table, no changes unless asked
    done = expgraph("history", "https://example.org/no-such-graph", store=tmp_path / "cli-store")
    assert done.returncode == 2 and "no graph" in done.stderr and "Traceback" not in done.stderr


def test_history_keep_zero_keeps_nothing(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("EXPGRAPH_HISTORY_KEEP", "0")
    _two_versions(cli, tmp_path)
    data = json.loads(cli("history", "/graph/sacred/", "--format", "json")[1])
    assert len(data["versions"]) == 1
    code, _, _ = cli("history", "/graph/sacred/", "--changes")
    assert code != 0  # the one-line message: test_source_history (pick)


def test_backup_and_restore_round_trip(cli, tmp_path: Path) -> None:
    _two_versions(cli, tmp_path)
    assert cli("token", "create", "ops", "--role", "admin")[0] == 0
    backup, restored = tmp_path / "backup", tmp_path / "restored"
    assert cli("backup", str(backup))[0] == 0
    code, _, err = cli("--store", str(restored), "restore-backup", str(backup))
    assert code == 0, err
    with EmbeddedStore(tmp_path / "cli-store") as original, EmbeddedStore(restored) as copy:
        assert _nquads(original) == _nquads(copy)
        assert [v.version for v in copy.versions(_sacred(copy))] == [v.version for v in original.versions(
            _sacred(original))]
    history = json.loads(cli("--store", str(restored), "history", "/graph/sacred/", "--changes", "--format",
                             "json")[1])
    assert [r["run"].rsplit("/", 1)[-1] for r in history["changes"]["removed"]] == ["8"]  # old versions came too
    tokens = json.loads(cli("--store", str(restored), "token", "list", "--json")[1])
    assert [t["name"] for t in tokens] == ["ops"]


def test_restore_never_overwrites_a_store(cli, tmp_path: Path) -> None:
    _two_versions(cli, tmp_path)
    backup = tmp_path / "backup"
    assert cli("backup", str(backup))[0] == 0
    done = expgraph("restore-backup", str(backup), store=tmp_path / "cli-store")
    assert done.returncode == 2 and "not empty" in done.stderr
    done = expgraph("restore-backup", str(tmp_path / "sacred"), store=tmp_path / "new")
    assert done.returncode == 2 and "not a backup" in done.stderr and not (tmp_path / "new").exists()


def expgraph(*args: str, store: Path) -> subprocess.CompletedProcess[str]:
    """The command in a child process, for its one-line errors and exit code."""
    return subprocess.run([sys.executable, "-c", "from expgraph.cli import main; main()", "--store", str(store),
                           *args], capture_output=True, text=True, timeout=120)


def _sacred(store: EmbeddedStore):
    from pyoxigraph import NamedNode

    return NamedNode(next(name for name in store.active_graphs() if "/graph/sacred/" in name))


def _nquads(store: EmbeddedStore) -> bytes:
    return b"".join(sorted(store.ox.dump(format=RdfFormat.N_QUADS).splitlines(keepends=True)))
