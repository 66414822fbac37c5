"""Capture at launch (issue 17): `expgraph record -- CMD` with real git repositories and real child processes,
`expgraph.capture()`, the spool, the MLflow link and `expgraph audit`."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pyoxigraph import Literal

import expgraph
from cli_inprocess import run_cli
from expgraph.capturing import spool
from expgraph.capturing.hashing import HashCache
from expgraph.store import EmbeddedStore

PREFIXES = """
PREFIX eg: <https://w3id.org/expgraph#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX spdx: <http://spdx.org/rdf/terms#>
PREFIX mls: <http://www.w3.org/ns/mls#>
"""
SRC = str(Path(expgraph.__file__).resolve().parents[1])


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=120)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real git checkout with one commit and an input file; the store, cache and spool isolated in tmp."""
    monkeypatch.setenv("EXPGRAPH_STORE", str(tmp_path / "store"))
    monkeypatch.delenv("EXPGRAPH_ENDPOINT", raising=False)
    monkeypatch.setenv("EXPGRAPH_HASH_CACHE", str(tmp_path / "cache" / "hashes.sqlite"))
    monkeypatch.setenv("EXPGRAPH_SPOOL", str(tmp_path / "spool"))
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_CONTEXT", "EXPGRAPH_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "project"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "ada@example.org")
    git(path, "config", "user.name", "Ada")
    git(path, "remote", "add", "origin", "https://ada:secret@example.org/ada/project.git")
    (path / "data.csv").write_text("x,y\n1,2\n", encoding="utf-8")
    (path / "requirements.txt").write_text("numpy==2.0.0\n", encoding="utf-8")
    (path / "train.py").write_text("print('training')\n", encoding="utf-8")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "first")
    monkeypatch.chdir(path)
    return path


def expgraph_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real entry point in a child process, with this checkout's sources first."""
    environ = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-c", "from expgraph.cli import main; main()", *args], cwd=cwd,
                          capture_output=True, text=True, env=environ, timeout=300)


def in_process(*args: str) -> subprocess.CompletedProcess[str]:
    """The same command in this process (no second start-up of expgraph, MLflow or W&B): for the steps around a
    recorded run whose child process adds nothing; ``record`` itself always runs in a child process."""
    code, stdout, stderr = run_cli(*args)
    return subprocess.CompletedProcess(["expgraph", *args], code, stdout, stderr)


def record(repo: Path, *command: str, options: tuple[str, ...] = (), env: dict[str, str] | None = None):
    return expgraph_cli("record", *options, "--", *command, cwd=repo, env=env)


def select(query: str, **bindings) -> list[dict[str, str]]:
    store = EmbeddedStore(os.environ["EXPGRAPH_STORE"])
    try:
        return [{key: term.value for key, term in row.items()} for row in store.select(PREFIXES + query, **bindings)]
    finally:
        store.close()


def the_run() -> dict[str, str]:
    rows = select("""SELECT ?run ?status ?exit ?signal ?error ?command WHERE {
        ?run eg:command ?command ; eg:status/skos:notation ?status .
        OPTIONAL { ?run eg:exitCode ?exit } OPTIONAL { ?run eg:signal ?signal } OPTIONAL { ?run eg:errorText ?error }
    }""")
    assert len(rows) == 1, rows
    return rows[0]


def failure_mode(run: str) -> str:
    rows = select("""SELECT ?mode ?run WHERE { ?result a eg:NegativeResult ; prov:wasGeneratedBy ?run ;
                                                eg:failureMode/skos:notation ?mode }""", run=_node(run))
    assert len(rows) == 1, rows
    return rows[0]["mode"]


def _node(iri: str):
    from pyoxigraph import NamedNode

    return NamedNode(iri)


PY = sys.executable


def test_crash_is_failed_with_its_traceback_classified_and_the_provenance_recorded(repo: Path) -> None:
    script = "print('epoch 1'); raise RuntimeError('CUDA out of memory. Tried to allocate 2 GiB')"
    done = record(repo, PY, "-c", script, options=("--input", "data.csv", "--project", "vision", "--param", "lr=0.1"))
    assert done.returncode == 1
    assert "epoch 1" in done.stdout  # passed through
    assert "CUDA out of memory" in done.stderr  # passed through, and kept
    run = the_run()
    assert run["status"] == "failed" and run["exit"] == "1"
    assert "RuntimeError: CUDA out of memory" in run["error"]
    assert failure_mode(run["run"]) == "out-of-memory"
    code = select("""SELECT ?commit ?dirty ?remote ?branch WHERE { ?run eg:command ?c ; prov:used ?code .
        ?code eg:commitHash ?commit ; eg:dirty ?dirty ; <https://schema.org/codeRepository> ?remote ;
        eg:branch ?branch }""")
    assert code == [{"commit": git(repo, "rev-parse", "HEAD"), "dirty": "false",
                     "remote": "https://example.org/ada/project.git", "branch": "main"}]  # no password kept
    data = select("""SELECT ?value WHERE { ?run eg:command ?c ; prov:used ?d .
        ?d a <http://www.w3.org/ns/dcat#Dataset> ; spdx:checksum/spdx:checksumValue ?value }""")
    assert data == [{"value": hashlib.sha256((repo / "data.csv").read_bytes()).hexdigest()}]
    env = select("""SELECT ?python ?lock WHERE { ?run eg:command ?c ; prov:used ?e . ?e a eg:Environment ;
        eg:pythonVersion ?python ; eg:lockFile/spdx:checksum/spdx:checksumValue ?lock }""")
    assert env == [{"python": ".".join(map(str, sys.version_info[:3])),
                    "lock": hashlib.sha256(b"numpy==2.0.0\n").hexdigest()}]
    assert select("""SELECT ?v WHERE { ?run eg:command ?c ; mls:hasInput/mls:hasValue ?v ;
                     eg:inExperiment/eg:inProject/dct:identifier "vision" }""") == [{"v": "0.1"}]


def test_exit_code_is_records_exit_code(repo: Path) -> None:
    done = record(repo, PY, "-c", "import sys; sys.stderr.write('bad config\\n'); sys.exit(3)")
    assert done.returncode == 3
    run = the_run()
    assert (run["status"], run["exit"], run["error"].strip()) == ("failed", "3", "bad config")


def test_clean_exit_is_finished_without_error_or_negative_result(repo: Path) -> None:
    assert record(repo, PY, "train.py").returncode == 0
    run = the_run()
    assert (run["status"], run["exit"]) == ("finished", "0") and "error" not in run
    assert select("SELECT ?r WHERE { ?r a eg:NegativeResult }") == []


def test_sigkill_of_the_child_is_killed_with_the_signal_named(repo: Path) -> None:
    done = record(repo, PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert done.returncode == 128 + signal.SIGKILL
    run = the_run()
    assert (run["status"], run["signal"]) == ("killed", "SIGKILL") and "exit" not in run
    assert failure_mode(run["run"]) == "killed"


def test_ctrl_c_is_forwarded_to_the_command(repo: Path) -> None:
    child = "import sys, time\nprint('ready', flush=True)\nwhile True: time.sleep(1)\n"
    environ = {**os.environ, "PYTHONPATH": SRC}
    recorder = subprocess.Popen([PY, "-c", "from expgraph.cli import main; main()", "record", "--", PY, "-c", child],
                                cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ)
    try:
        assert recorder.stdout.readline().strip() == "ready"  # the command runs: record's handlers are in place
        recorder.send_signal(signal.SIGINT)  # to record only, as `kill -INT` would: it must pass it on
        _, stderr = recorder.communicate(timeout=300)
    finally:
        if recorder.poll() is None:
            recorder.kill()
    assert recorder.returncode == 128 + signal.SIGINT, stderr
    assert "KeyboardInterrupt" in stderr  # the command got it
    run = the_run()
    assert (run["status"], run["signal"]) == ("killed", "SIGINT")
    assert "KeyboardInterrupt" in run["error"]


def test_dirty_tree_is_a_code_version_of_its_own(repo: Path) -> None:
    assert record(repo, PY, "train.py").returncode == 0
    (repo / "train.py").write_text("print('tuned')\n", encoding="utf-8")
    assert record(repo, PY, "train.py").returncode == 0
    (repo / "notes.txt").write_text("untracked\n", encoding="utf-8")
    assert record(repo, PY, "train.py").returncode == 0
    rows = select("""SELECT ?code ?dirty ?diff WHERE { ?run eg:command ?c ; prov:used ?code .
        ?code eg:commitHash ?commit ; eg:dirty ?dirty OPTIONAL { ?code eg:diffDigest ?diff } } ORDER BY ?dirty""")
    assert [row["dirty"] for row in rows] == ["false", "true", "true"]
    assert len({row["code"] for row in rows}) == 3  # an untracked file changes the diff digest too
    assert "diff" not in rows[0] and rows[1]["diff"] != rows[2]["diff"]


def test_a_large_input_is_hashed_once_then_taken_from_the_cache(repo: Path, tmp_path: Path) -> None:
    big = repo / "big.bin"
    with open(big, "wb") as out:
        for block in range(24):  # 24 MiB: streamed in chunks
            out.write(bytes([block]) * (1 << 20))
    expected = hashlib.sha256(big.read_bytes()).hexdigest()
    cache_file = tmp_path / "cache" / "hashes.sqlite"
    first = HashCache(cache_file)
    assert first.file(big) == expected and first.computed == 1
    assert first.file(big) == expected and first.computed == 1
    first.close()
    again = HashCache(cache_file)  # a later process: still cached
    assert again.file(big) == expected and again.computed == 0
    with open(big, "ab") as out:
        out.write(b"more")
    assert again.file(big) == hashlib.sha256(big.read_bytes()).hexdigest() and again.computed == 1
    again.close()
    assert record(repo, PY, "train.py", options=("--input", "big.bin")).returncode == 0  # uses the same cache
    assert select("""SELECT ?v WHERE { ?run eg:command ?c ; prov:used/spdx:checksum/spdx:checksumValue ?v }""") == [
        {"v": hashlib.sha256(big.read_bytes()).hexdigest()}]


def test_a_busy_store_spools_the_run_and_flush_writes_it_once(repo: Path, tmp_path: Path) -> None:
    holder = EmbeddedStore(os.environ["EXPGRAPH_STORE"])
    holder.active_graphs()  # opened for writing: RocksDB admits one writer process
    try:
        done = record(repo, PY, "-c", "import sys; sys.exit(2)")
        assert done.returncode == 2  # the command's code, whatever happened to the record
        assert "record --flush" in done.stderr
        files = list(spool.pending(tmp_path / "spool"))
        assert len(files) == 1
        flush = expgraph_cli("record", "--flush", cwd=repo)
        assert flush.returncode != 0 and files[0].exists()  # still busy: nothing lost
    finally:
        holder.close()
    assert spool.read(files[0])[-1].exit_code == 2  # the spool keeps the records themselves
    flush = expgraph_cli("record", "--flush", cwd=repo)
    assert flush.returncode == 0 and "wrote 1 spooled run" in flush.stdout
    assert not files[0].exists()
    run = the_run()
    assert (run["status"], run["exit"]) == ("failed", "2")
    assert in_process("record", "--flush").stdout.startswith("wrote 0")


@pytest.mark.parametrize("store", ["file", "sqlite"])
def test_a_run_that_logs_to_mlflow_is_one_run_after_import(repo: Path, store: str) -> None:
    pytest.importorskip("mlflow")
    (repo / "log.py").write_text(textwrap.dedent("""
        import mlflow
        with mlflow.start_run():
            mlflow.log_param("lr", 0.01)
            mlflow.log_metric("loss", 0.25)
        """), encoding="utf-8")
    uri = "./mlruns" if store == "file" else "sqlite:///mlflow.db"  # as a user would write them: relative
    env = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_ALLOW_FILE_STORE": "true"}
    done = record(repo, PY, "log.py", options=("--input", "data.csv"), env=env)
    assert done.returncode == 0, done.stderr
    imported = in_process("import", "mlflow", uri, "--no-validate")
    assert imported.returncode == 0, imported.stderr
    runs = select("SELECT DISTINCT ?run WHERE { ?run a eg:Run }")
    assert len(runs) == 1
    facts = select("""SELECT DISTINCT ?commit ?lr ?loss ?status ?exit WHERE {
        ?run a eg:Run ; eg:command ?c ; eg:exitCode ?exit ; eg:status/skos:notation ?status ;
             prov:used/eg:commitHash ?commit ;
             mls:hasInput [ mls:specifiedBy/<http://www.w3.org/2000/01/rdf-schema#label> "lr" ; mls:hasValue ?lr ] ;
             mls:hasOutput [ mls:specifiedBy/<http://www.w3.org/2000/01/rdf-schema#label> "loss" ;
                             mls:hasValue ?loss ] }""")
    assert facts == [{"commit": git(repo, "rev-parse", "HEAD"), "lr": "0.01", "loss": "0.25", "status": "finished",
                      "exit": "0"}]
    assert select("SELECT DISTINCT ?s WHERE { ?run a eg:Run ; eg:status ?s }") == [
        {"s": "https://w3id.org/expgraph/vocab/run-status/finished"}]  # MLflow's status, the only one


def test_audit_finds_a_rewritten_history_and_a_changed_input(repo: Path) -> None:
    assert record(repo, PY, "train.py", options=("--input", "data.csv", "--project", "vision")).returncode == 0
    clean = expgraph_cli("audit", "--project", "vision", "--format", "json", cwd=repo)
    assert clean.returncode == 0, clean.stderr
    report = json.loads(clean.stdout)
    assert report["broken"] == 0 and {link["kind"] for link in report["links"]} == {"commit", "input", "lock file"}
    old = git(repo, "rev-parse", "HEAD")
    git(repo, "commit", "-q", "--amend", "-m", "first, reworded")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")
    (repo / "data.csv").write_text("x,y\n1,3\n", encoding="utf-8")
    broken = in_process("audit", "--project", "vision")
    assert broken.returncode == 1
    assert f"commit {old} no longer exists" in broken.stdout
    assert "data.csv changed" in broken.stdout and "3 links checked, 2 broken" in broken.stdout
    assert in_process("audit", "--project", "other").returncode == 0  # no runs there
    held = select("""SELECT ?holds WHERE { ?audit a eg:AuditActivity ; eg:checked ?check ; prov:endedAtTime ?t .
        ?check eg:checkedEntity ?entity ; eg:linkHolds ?holds . ?entity eg:commitHash ?commit }""")
    assert held == [{"holds": "false"}]  # the project's audit replaced its earlier one


def test_capture_context_manager_records_an_exception_and_raises_it_on(repo: Path) -> None:
    with pytest.raises(ValueError, match="bad batch"), expgraph.capture(inputs=["data.csv"],
                                                                      params={"batch": 32}) as launch:
        assert os.environ["EXPGRAPH_RUN_ID"] == launch.run_id
        raise ValueError("bad batch")
    assert "EXPGRAPH_RUN_ID" not in os.environ
    rows = select("""SELECT ?status ?error ?id WHERE { ?run dct:identifier ?id ; eg:status/skos:notation ?status ;
                                                    eg:errorText ?error }""", id=Literal(launch.run_id))
    assert len(rows) == 1 and rows[0]["status"] == "failed" and "ValueError: bad batch" in rows[0]["error"]


def test_spooled_records_round_trip(tmp_path: Path) -> None:
    from expgraph.records import Checksum, CodeVersion, DatasetSnapshot, Experiment, Run, RunStatus, SourceRef

    items = [Experiment("e", "e"), Run("r", "e", RunStatus.KILLED, tags={"a": "b"}, signal="SIGTERM",
                                       code=CodeVersion("abc1234", dirty=True),
                                       datasets=(DatasetSnapshot("d", Checksum("sha256", "00")),),
                                       minted_in=SourceRef("mlflow", "file:///x"))]
    assert spool.read(spool.write(tmp_path, "r", items)) == items


def test_capture_is_exported() -> None:
    assert "capture" in expgraph.__all__ and callable(expgraph.capture)


def test_record_without_a_command_is_one_error_line(repo: Path) -> None:
    done = expgraph_cli("record", "--project", "p", cwd=repo)
    assert done.returncode == 2 and done.stderr.strip().startswith("error: record needs a command")
    missing = record(repo, "no-such-command-xyz")
    assert missing.returncode == 127 and "no-such-command-xyz" in missing.stderr
    no_input = record(repo, PY, "-c", "print('ran')", options=("--input", "absent.csv"))
    assert no_input.returncode == 2 and "ran" not in no_input.stdout  # refused before running anything
    assert no_input.stderr.strip() == "error: absent.csv: no such file or directory"


def test_the_stderr_tail_and_peak_memory_of_a_real_child() -> None:
    from expgraph.capturing import process

    script = "import sys; sys.stderr.write('a' * 200_000 + 'END'); sys.exit(4)"
    outcome = process.run([PY, "-c", script])
    assert (outcome.exit_code, outcome.signal, outcome.shell_code) == (4, None, 4)
    assert len(outcome.stderr_tail) == process.STDERR_TAIL and outcome.stderr_tail.endswith("aEND")
    # peak memory, measured from a small launching process (Linux carries the launcher's peak into its children)
    launcher = ("import json, sys; from expgraph.capturing import process\n"
                "big = process.run([sys.executable, '-c', 'block = bytearray(400 << 20); block[::4096] = b\"x\" * "
                "len(block[::4096])'])\n"
                "print(json.dumps([big.peak_memory, process.run(['true']).peak_memory]))")
    done = subprocess.run([PY, "-c", launcher], capture_output=True, text=True, check=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": SRC})
    big, small = json.loads(done.stdout)
    assert big >= 400 << 20 and small is None  # `true` never grew past the launcher's own size


def test_a_run_that_logs_to_wandb_offline_is_one_run_after_import(repo: Path) -> None:
    pytest.importorskip("wandb")
    (repo / "log_wandb.py").write_text(textwrap.dedent("""
        import wandb
        run = wandb.init(project="vision", config={"lr": 0.01})
        run.log({"loss": 0.25})
        run.finish()
        """), encoding="utf-8")
    env = {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DIR": str(repo)}
    done = record(repo, PY, "log_wandb.py", env=env)
    assert done.returncode == 0, done.stderr
    imported = in_process("import", "wandb", "./wandb", "--no-validate")
    assert imported.returncode == 0, imported.stderr
    assert len(select("SELECT DISTINCT ?run WHERE { ?run a eg:Run }")) == 1
    facts = select("""SELECT DISTINCT ?commit ?lr ?status WHERE {
        ?run a eg:Run ; eg:command ?c ; eg:status/skos:notation ?status ; prov:used/eg:commitHash ?commit ;
             mls:hasInput [ mls:specifiedBy/<http://www.w3.org/2000/01/rdf-schema#label> "lr" ; mls:hasValue ?lr ] }""")
    assert facts == [{"commit": git(repo, "rev-parse", "HEAD"), "lr": "0.01", "status": "finished"}]


def test_an_output_is_the_snapshot_a_later_run_reads(repo: Path) -> None:
    write = "open('model.bin', 'wb').write(b'weights')"
    assert record(repo, PY, "-c", write, options=("--output", "model.bin", "--output", "never-written")).returncode == 0
    assert record(repo, PY, "train.py", options=("--input", "model.bin")).returncode == 0
    rows = select("""SELECT DISTINCT ?writer ?reader ?value WHERE { ?writer prov:generated ?d . ?reader prov:used ?d .
                     ?d spdx:checksum/spdx:checksumValue ?value }""")
    assert len(rows) == 1 and rows[0]["writer"] != rows[0]["reader"]
    assert rows[0]["value"] == hashlib.sha256(b"weights").hexdigest()


def test_an_unreachable_server_spools_the_run(repo: Path, tmp_path: Path) -> None:
    from loopback import free_port

    done = record(repo, PY, "train.py", env={"EXPGRAPH_ENDPOINT": f"http://127.0.0.1:{free_port()}/sparql"})
    assert done.returncode == 0 and "training" in done.stdout
    assert "record --flush" in done.stderr
    assert len(list(spool.pending(tmp_path / "spool"))) == 1


def test_a_failed_mlflow_run_has_one_negative_result_the_captured_one(repo: Path) -> None:
    pytest.importorskip("mlflow")
    (repo / "crash.py").write_text(textwrap.dedent("""
        import mlflow
        with mlflow.start_run():
            mlflow.log_param("lr", 10.0)
            raise FloatingPointError("loss is nan")
        """), encoding="utf-8")
    env = {"MLFLOW_TRACKING_URI": "./mlruns", "MLFLOW_ALLOW_FILE_STORE": "true"}
    assert record(repo, PY, "crash.py", env=env).returncode == 1
    assert in_process("import", "mlflow", "./mlruns", "--no-validate").returncode == 0
    rows = select("""SELECT DISTINCT ?result ?mode ?status WHERE { ?result a eg:NegativeResult ;
        prov:wasGeneratedBy ?run ; eg:failureMode/skos:notation ?mode . ?run eg:status/skos:notation ?status }""")
    assert [(row["mode"], row["status"]) for row in rows] == [("numerical-instability", "failed")]
