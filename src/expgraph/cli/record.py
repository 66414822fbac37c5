"""``expgraph record -- CMD`` (capture a run as it launches) and ``expgraph audit`` (do its links still hold?)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape

from expgraph.cli.common import CliError, err, out, print_json, state


class AuditFormat(StrEnum):
    text = "text"
    json = "json"


def _params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"--param {pair!r}: expected KEY=VALUE")
        params[key] = value
    return params


def record(
    ctx: typer.Context,
    command: Annotated[list[str] | None, typer.Argument(help="The command to run and its arguments, after --.",
                                                        show_default=False)] = None,
    project: Annotated[str | None, typer.Option(help="Project the run belongs to.")] = None,
    experiment: Annotated[str | None, typer.Option(
        help="Experiment name (default: the name of the git checkout, else of the working directory).")] = None,
    inputs: Annotated[list[str] | None, typer.Option(
        "--input", help="A file or directory the run reads; its SHA-256 is recorded (cached). Repeat.")] = None,
    outputs: Annotated[list[str] | None, typer.Option(
        "--output", help="A file or directory the run writes; hashed when it ends. Repeat.")] = None,
    params: Annotated[list[str] | None, typer.Option("--param", help="A parameter KEY=VALUE. Repeat.")] = None,
    flush: Annotated[bool, typer.Option(
        "--flush", help="Write the runs spooled while the store could not be written, and run nothing.")] = False,
) -> None:
    """Run CMD and record it as one run: commit, inputs, environment, exit code or signal, stderr tail.

    Output passes through live, signals are forwarded to CMD, and `record` exits with CMD's exit code (128 + N
    when signal N ended it). When the store is busy or unreachable the run waits in the spool until
    `expgraph record --flush`. MLflow runs CMD starts are the same run in the catalog (see README).
    """
    from expgraph.capturing import process
    from expgraph.capturing.environment import interpreter_of
    from expgraph.capturing.session import begin, ending_of, finish, hash_cache, save
    from expgraph.capturing.session import flush as flush_spool

    settings = state(ctx).settings
    if flush:
        if command:
            raise CliError("--flush runs nothing: give it no command")
        written = flush_spool(state(ctx).store(create=True), settings)
        out.print(f"wrote {len(written)} spooled run{'s' if len(written) != 1 else ''}", highlight=False)
        return
    if not command:
        raise CliError("record needs a command: expgraph record [OPTIONS] -- CMD [ARGS...]")
    hashes = hash_cache(settings)
    try:
        launch = begin(inputs=inputs or (), params=_params(params or []), project=project, experiment=experiment,
                       argv=command, interpreter=interpreter_of(command), hashes=hashes)
        try:
            outcome = process.run(command, env=launch.environ(os.environ))
        except OSError as error:
            raise CliError(f"{command[0]}: cannot run it ({error.strerror or error})", code=127) from None
        launch.started = outcome.started
        ending = ending_of(outcome)
        saved = save(finish(launch, ending, outputs or ()), settings)
    finally:
        hashes.close()
    if saved.spooled:
        err.print(f"[yellow]warning:[/yellow] store unavailable ({escape(saved.reason or '')}); run {saved.run_id} "
                  f"kept in {escape(str(saved.spooled))}: write it with `expgraph record --flush`", highlight=False)
    else:
        err.print(f"recorded run {saved.run_id} ({ending.status.value})", highlight=False)
    raise typer.Exit(outcome.shell_code)


def audit(
    ctx: typer.Context,
    project: Annotated[str | None, typer.Option(help="Audit only the runs of this project.")] = None,
    fmt: Annotated[AuditFormat, typer.Option("--format", help="Report format.")] = AuditFormat.text,
) -> None:
    """Check that the links captured runs recorded still hold: commits exist, inputs and lock files match their
    checksums. Stores the audit as a PROV activity; exit 1 when any link is broken."""
    from expgraph.capturing.audit import audit as run_audit
    from expgraph.capturing.audit import record_audit
    from expgraph.capturing.session import hash_cache

    settings = state(ctx).settings
    store = state(ctx).store()
    started = datetime.now(UTC)
    hashes = hash_cache(settings)
    try:
        checks = run_audit(store, hashes, project)
    finally:
        hashes.close()
    activity = record_audit(store, checks, started=started, project=project, base=settings.base_iri)
    broken = [check for check in checks if check.problem]
    if fmt is AuditFormat.json:
        print_json({"activity": activity.value, "checked": len(checks), "broken": len(broken),
                    "links": [check.as_dict() for check in checks]})
    else:
        for check in broken:
            out.print(f"broken {check.kind}: {escape(check.problem or '')} (<{escape(check.entity)}>)",
                      highlight=False)
        out.print(f"{len(checks)} links checked, {len(broken)} broken", highlight=False)
    if broken:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("record", context_settings={"allow_interspersed_args": False})(record)
    app.command("audit")(audit)
