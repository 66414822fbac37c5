"""``expgraph`` run in the test process: the real command tree without a child process's start-up (importing
expgraph and its dependencies again costs about a second of CPU per call). Tests that are about the process itself
(exit codes as the shell sees them, signals, a served store's discovery) keep a real child process."""

from __future__ import annotations

from typer.testing import CliRunner


def run_cli(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    """``expgraph ARGS`` in-process: (exit code, stdout, stderr). ``env`` adds to (None: removes from) the
    environment for the call; an endpoint set by the environment is ignored unless given here."""
    from expgraph.cli import app

    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "EXPGRAPH_ENDPOINT": None, **(env or {})})
    return result.exit_code, result.stdout, result.stderr
