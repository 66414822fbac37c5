"""Global options before or after the command, read commands that never create a store, and bounded waits for
tracker servers and remote stores that are not there or do not answer."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from expgraph.catalog import prepare
from expgraph.cli import app, hoist_global_options, main
from expgraph.settings import load_settings
from expgraph.store import EmbeddedStore
from loopback import free_port

FIXTURES = Path(__file__).parent / "fixtures"
RECORDS = FIXTURES / "records" / "negative-results.yaml"
TURTLE = "@prefix ex: <https://example.org/> .\nex:a ex:label \"alpha\" .\n"


@pytest.fixture
def expgraph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """The real entry point in-process (exit codes as the shell sees them), in an empty directory with no
    store configured by the environment; returns (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EXPGRAPH_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("COLUMNS", "200")
    for name in ("EXPGRAPH_STORE", "EXPGRAPH_ENDPOINT", "EXPGRAPH_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["expgraph", *args])
        with pytest.raises(SystemExit) as done:
            main()
        captured = capsys.readouterr()
        return done.value.code, captured.out, captured.err

    return run


def child(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The entry point in a child process, for the waits: the test's own bound is ``timeout``."""
    return subprocess.run([sys.executable, "-c", "from expgraph.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200", "EXPGRAPH_CONFIG": os.devnull})


def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


# -- store existence ------------------------------------------------------------------------------------------

READ_COMMANDS = {
    "stats": ["stats"],
    "query": ["query", "failures-by-mode"],
    "sparql": ["sparql", "ASK {}"],
    "export": ["export"],
    "validate": ["validate"],
    "serve": ["serve", "--port", "1"],  # refused before it binds anything
}


@pytest.mark.parametrize("command", sorted(READ_COMMANDS))
def test_a_read_command_on_a_missing_store_fails_and_creates_nothing(expgraph, tmp_path: Path, command: str) -> None:
    code, out, err = expgraph("--store", "typo", *READ_COMMANDS[command])
    assert code == 2 and out == ""
    line = one_line(err)
    assert "no store at typo" in line and "import" in line and "demo" in line
    assert not (tmp_path / "typo").exists()


def test_the_default_store_is_not_created_by_a_read_either(expgraph, tmp_path: Path) -> None:
    code, _, err = expgraph("stats")
    assert code == 2 and "no store at .expgraph" in one_line(err)
    assert list(tmp_path.iterdir()) == []


def test_a_directory_that_holds_no_store_is_not_one(expgraph, tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("x", encoding="utf-8")
    code, _, err = expgraph("--store", "notes", "sparql", "ASK {}")
    assert code == 2 and "no store at notes" in one_line(err)
    assert [p.name for p in (tmp_path / "notes").iterdir()] == ["todo.txt"]


@pytest.mark.parametrize("command", ["load", "import"])
def test_write_commands_create_the_store(expgraph, tmp_path: Path, command: str) -> None:
    (tmp_path / "data.ttl").write_text(TURTLE, encoding="utf-8")
    args = ["load", "data.ttl"] if command == "load" else ["import", "records", str(RECORDS), "--no-validate"]
    code, _, err = expgraph("--store", "new", *args)
    assert code == 0, err
    code, out, err = expgraph("--store", "new", "stats", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["store"] == "new"


def test_a_failed_write_leaves_no_new_store_and_keeps_an_old_one(expgraph, tmp_path: Path) -> None:
    (tmp_path / "bad.ttl").write_text("ex:a ex:b .\n", encoding="utf-8")  # an undeclared prefix
    for args in (["import", "records", "missing.yaml"], ["load", "bad.ttl"]):
        code, _, err = expgraph("--store", "new", *args)
        assert code == 2 and not (tmp_path / "new").exists(), err
    prepare(EmbeddedStore(tmp_path / "old")).close()
    code, _, _ = expgraph("--store", "old", "import", "records", "missing.yaml")
    assert code == 2 and EmbeddedStore.exists(tmp_path / "old")


def test_a_write_does_not_turn_a_directory_of_other_files_into_a_store(expgraph, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("print()", encoding="utf-8")
    code, _, err = expgraph("--store", "src", "import", "records", str(RECORDS))
    assert code == 2 and "src holds other files and no store" in one_line(err)
    assert [p.name for p in (tmp_path / "src").iterdir()] == ["main.py"]
    (tmp_path / "empty").mkdir()  # an empty directory is fine
    assert expgraph("--store", "empty", "import", "records", str(RECORDS), "--no-validate")[0] == 0


# -- global options anywhere ----------------------------------------------------------------------------------


def test_hoisting_moves_only_the_root_options_and_nothing_after_a_double_dash() -> None:
    import typer.main

    params = typer.main.get_command(app).params
    assert hoist_global_options(["stats", "--store", "x", "--format", "json"], params) == \
        ["--store", "x", "stats", "--format", "json"]
    assert hoist_global_options(["query", "q", "--param", "a=1", "--endpoint=http://h", "--debug"], params) == \
        ["--endpoint=http://h", "--debug", "query", "q", "--param", "a=1"]
    assert hoist_global_options(["import", "mlflow", "--timeout", "3", "src"], params) == \
        ["--timeout", "3", "import", "mlflow", "src"]
    tail = ["record", "--", "python", "train.py", "--store", "elsewhere"]
    assert hoist_global_options(tail, params) == tail
    with pytest.raises(ValueError, match="'--store' requires an argument"):
        hoist_global_options(["stats", "--store"], params)


def test_a_global_option_without_its_value_is_a_usage_error(expgraph) -> None:
    code, out, err = expgraph("stats", "--store")
    assert code == 2 and out == "" and "'--store' requires an argument" in err


@pytest.fixture
def two_stores(tmp_path: Path) -> tuple[Path, Path]:
    """``one`` holds a loaded file; ``other`` is empty: which store answered shows in the counts."""
    for name in ("one", "other"):
        prepare(EmbeddedStore(tmp_path / name)).close()
    return tmp_path / "one", tmp_path / "other"


def file_triples(expgraph, *args: str) -> int:
    code, out, err = expgraph(*args)
    assert code == 0, err
    return sum(g["triples"] for g in json.loads(out)["graphs"] if "/graph/file/" in g["graph"])


def test_store_after_the_command_for_every_family(expgraph, tmp_path: Path, two_stores) -> None:
    (tmp_path / "data.ttl").write_text(TURTLE, encoding="utf-8")
    assert expgraph("load", "data.ttl", "--store", "one")[0] == 0  # a write command
    assert expgraph("import", "records", str(RECORDS), "--no-validate", "--store=one")[0] == 0  # a subgroup
    assert file_triples(expgraph, "stats", "--format", "json", "--store", "one") == 1
    assert file_triples(expgraph, "stats", "--store", "other", "--format", "json") == 0
    ask = "ASK { ?s <https://example.org/label> 'alpha' }"
    assert expgraph("sparql", ask, "--format", "json", "--store", "one")[1].count("true") == 1
    assert expgraph("sparql", ask, "--format", "json", "--store", "other")[1].count("false") == 1
    code, out, _ = expgraph("query", "failures-by-mode", "--format", "csv", "--store", "one")
    assert code == 0 and len(out.splitlines()) > 1  # the records hold failures
    code, out, _ = expgraph("query", "failures-by-mode", "--store", "other", "--format", "csv")
    assert code == 0 and len(out.splitlines()) == 1
    code, out, _ = expgraph("export", "--format", "ntriples", "--store", "one")
    assert code == 0 and '<https://example.org/label> "alpha"' in out
    code, out, _ = expgraph("validate", "--format", "json", "--store", "other")
    assert code == 0, out
    code, _, err = expgraph("serve", "--port", "1", "--store", "missing")  # `serve --store X` is accepted
    assert code == 2 and "no store at missing" in one_line(err)


def test_the_command_line_beats_the_environment_wherever_it_is(expgraph, monkeypatch, two_stores) -> None:
    one, other = two_stores
    monkeypatch.setenv("EXPGRAPH_STORE", str(other))
    code, out, _ = expgraph("stats", "--format", "json")
    assert code == 0 and json.loads(out)["store"] == str(other)
    code, out, _ = expgraph("stats", "--format", "json", "--store", str(one))
    assert code == 0 and json.loads(out)["store"] == str(one)


def test_endpoint_and_timeout_after_the_command(expgraph, monkeypatch) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("EXPGRAPH_ENDPOINT", url)
    code, _, err = expgraph("sparql", "ASK {}")
    assert code == 2 and f"cannot reach the SPARQL server at {url}/query" in one_line(err)
    monkeypatch.delenv("EXPGRAPH_ENDPOINT")
    code, _, err = expgraph("stats", "--endpoint", url, "--timeout", "5")
    assert code == 2 and f"cannot reach the SPARQL server at {url}/query" in one_line(err)
    code, _, err = expgraph("stats", f"--endpoint={url}", "--timeout", "0")
    assert code == 2 and "timeout" in one_line(err)


# -- timeouts -------------------------------------------------------------------------------------------------


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback socket that takes connections (the kernel's backlog accepts them) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_the_default_timeout_is_at_most_ten_seconds() -> None:
    assert 0 < load_settings(environ={"EXPGRAPH_CONFIG": os.devnull}).timeout <= 10


def test_an_mlflow_server_that_is_not_there(expgraph) -> None:
    """In-process: a refused connection needs no bound (a child process would add MLflow's second of imports)."""
    url = f"http://127.0.0.1:{free_port()}"
    code, _, stderr = expgraph("--store", "s", "import", "mlflow", url)
    assert code == 2
    assert one_line(stderr) == f"error: {url}: cannot reach an MLflow server there (is it running?)"


def test_an_mlflow_server_that_never_answers(tmp_path: Path, silent_server: str) -> None:
    result = child("--store", str(tmp_path / "s"), "import", "mlflow", silent_server, "--timeout", "1")
    assert result.returncode == 2
    assert one_line(result.stderr) == f"error: {silent_server}: the MLflow server did not answer within 1 s (--timeout)"


@pytest.fixture
def counting_silent_server() -> Iterator[tuple[str, list[socket.socket]]]:
    """A loopback server that accepts connections, keeps them open and never answers; the list holds the
    connections it took (one per request the client made)."""
    taken: list[socket.socket] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        stop = threading.Event()

        def accept() -> None:
            listener.settimeout(0.2)
            while not stop.is_set():
                try:
                    taken.append(listener.accept()[0])
                except TimeoutError:
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{listener.getsockname()[1]}", taken
        finally:
            stop.set()
            thread.join()
            for connection in taken:
                connection.close()


def test_a_remote_store_that_never_answers_is_waited_for_once(
        counting_silent_server: tuple[str, list[socket.socket]]) -> None:
    """Regression: ``--endpoint`` to a silent server waited twice (the expgraph-server probe, then the remote
    store's own), and said so in the second one's words only after both."""
    url, taken = counting_silent_server
    result = child("--endpoint", url, "stats", "--timeout", "1")
    assert result.returncode == 2
    assert one_line(result.stderr) == f"error: the SPARQL server at {url}/query did not answer within 1 s (--timeout)"
    assert len(taken) == 1


def test_a_remote_store_that_never_answers_with_a_given_timeout(silent_server: str) -> None:
    result = child("sparql", "ASK {}", "--endpoint", silent_server, "--timeout", "1.5")
    assert result.returncode == 2
    assert "did not answer within 1.5 s (--timeout)" in one_line(result.stderr)
