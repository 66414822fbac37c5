"""The team deployment's tested steps: the commands of the "Tested steps" block of docs/deploy.md, read from the
doc and run in order as child processes (a real server on a free loopback port, real clients), with the doc's paths
replaced by a test directory's. A step that fails, or a doc edit that breaks one, fails this test."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from loopback import free_port

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "deploy.md"
CLI = [sys.executable, "-c", "from expgraph.cli import main; main()"]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="stops the server with SIGINT")


def documented_steps() -> list[str]:
    """The lines of the first ``sh`` block after the "### Tested steps" heading."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("### Tested steps"):]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None, "docs/deploy.md: no sh block under ### Tested steps"
    return [line.strip() for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_the_documented_team_deployment_steps_work(tmp_path: Path) -> None:
    port = free_port()
    places = {  # longest first: one doc path is the start of another
        "/srv/expgraph/store-restored": str(tmp_path / "restored"),
        "/srv/expgraph/store": str(tmp_path / "store"),
        "/srv/backups/expgraph-2026-12-03": str(tmp_path / "backup"),
        "/data/lab-notebook.yaml": str(ROOT / "src" / "expgraph" / "examples" / "records" / "lab-notebook.yaml"),
        "/data/sacred/runs": str(ROOT / "tests" / "fixtures" / "sacred" / "runs"),
        "127.0.0.1:8000": f"127.0.0.1:{port}",
        "--port 8000": f"--port {port}",
    }
    variables: dict[str, str] = {}
    outputs: list[tuple[str, str]] = []  # (the step as documented, what it printed)
    server: subprocess.Popen[str] | None = None
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("EXPGRAPH_TOKEN", None)
    env.pop("EXPGRAPH_ENDPOINT", None)
    steps = documented_steps()
    assert len(steps) >= 6 and any(step.endswith("&") for step in steps)
    try:
        for step in steps:
            line = step
            for doc_path, here in places.items():
                line = line.replace(doc_path, here)
            assigned = re.fullmatch(r"([A-Z_]+)=\$\((.*)\)", line)
            command = assigned.group(2) if assigned else line.removesuffix("&").strip()
            words = [variables.get(word[1:], word) if word.startswith("$") else word for word in shlex.split(command)]
            assert words[0] == "expgraph", step
            args = [*CLI, *words[1:]]
            if line.endswith("&"):
                server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
                                          env=env)
                _wait_for(f"http://127.0.0.1:{port}", server)
                continue
            done = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
            assert done.returncode == 0, f"{step}\n{done.stderr}"
            outputs.append((step, done.stdout))
            if assigned:
                variables[assigned.group(1)] = done.stdout.strip()
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)
            server.communicate(timeout=60)
    histories = [printed for documented, printed in outputs if " history " in documented]
    served_history, restored_history = histories[0], histories[-1]  # through the server, then on the restored store
    versions = re.findall(r"\b[0-9a-f]{12}\b", served_history)
    assert versions and versions[0] in restored_history
    assert (tmp_path / "backup" / "CURRENT").is_file()


def _wait_for(url: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(url + "/api/v1/info", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)  # polling the server's readiness, not standing in for synchronisation
    raise AssertionError(f"the documented server did not start (exit code {server.poll()})")
