"""``expgraph import KIND SOURCE``: one subcommand per registered importer, all sharing the same options."""

# No ``from __future__ import annotations`` here: the per-importer commands are closures whose annotations
# mention ``cls``, and Typer evaluates annotations in the module globals when they are strings.

from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from expgraph.catalog import ImportOutcome, run_import
from expgraph.cli.common import CliError, err, out, print_json, state
from expgraph.importers import IMPORTERS, Collector, Importer, SourceError
from expgraph.importers.base import MissingDependency
from expgraph.records import Liveness

import_app = typer.Typer(
    help="Import runs from a tracker's store. Atomic (all or nothing per source) and idempotent.",
    no_args_is_help=True,
)


class SummaryFormat(StrEnum):
    text = "text"
    json = "json"


def _command(cls: type[Importer]):
    def command(
        ctx: typer.Context,
        source: Annotated[str, typer.Argument(help=cls.source_help)],
        skip_invalid: Annotated[bool, typer.Option(help="Import the good runs and list the bad ones, "
                                                   "instead of refusing the whole source.")] = False,
        fmt: Annotated[SummaryFormat, typer.Option("--format", help="Summary format.")] = SummaryFormat.text,
        project: Annotated[str | None, typer.Option(
            help="Put every experiment of the source into this project. Without it, experiments keep the project "
                 "the source names (docs/importers.md, per tracker); those naming none go into the source's "
                 "default project, \"no project (TRACKER SOURCE)\".")] = None,
        validate: Annotated[bool, typer.Option(
            help="Check the completeness of what came in and refresh the stored scores. This validates the whole "
                 "catalog (tens of seconds at 100k runs): when importing many sources, pass --no-validate and run "
                 "`expgraph validate` once at the end.")] = True,
    ) -> None:
        settings = state(ctx).settings
        collector = Collector(skip_invalid=skip_invalid)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True, disable=fmt is SummaryFormat.json or not err.is_terminal) as bar:
            task = bar.add_task(f"reading {cls.tracker}", total=None)
            try:
                importer = cls(source, collector=collector, project=project, timeout=settings.timeout,
                               progress=lambda done, total: bar.update(task, completed=done, total=total))
                liveness = Liveness(datetime.now(UTC), timedelta(hours=settings.presumed_dead_after))
                outcome = run_import(state(ctx).store(create=True), importer, base=settings.base_iri, liveness=liveness)
            except (SourceError, MissingDependency) as error:
                state(ctx).discard_new_store()
                raise CliError(str(error)) from None
        quality = None
        if validate:
            from expgraph.validation import summarise_import  # validate on import: completeness of what came in

            with err.status("validating the catalog", spinner="dots") if fmt is SummaryFormat.text else nullcontext():
                quality = summarise_import(state(ctx).store(), outcome.graph)
        _summarise(outcome, collector, fmt, quality)

    command.__doc__ = cls.__doc__
    return command


def _summarise(outcome: ImportOutcome, collector: Collector, fmt: SummaryFormat, quality: dict | None = None) -> None:
    data = outcome.as_dict() | {"skipped": collector.skipped, "quality": quality}
    if fmt is SummaryFormat.json:
        print_json(data)
        return
    verb = "imported" if outcome.changed else "unchanged, nothing written:"
    out.print(
        f"{verb} {outcome.experiments} experiments, {outcome.runs} runs ({outcome.failures} failed or killed"
        f"{f', {outcome.presumed_dead} presumed dead' if outcome.presumed_dead else ''}), "
        f"{outcome.negative_results} negative results, {outcome.triples} triples into <{outcome.graph.value}>",
        highlight=False,
    )
    if quality is not None:
        score = "n/a" if quality["completeness"] is None else f"{quality['completeness']:.0%}"
        out.print(f"completeness {score}: {quality['violations']} violations, {quality['warnings']} warnings "
                  f"(details: expgraph validate)", highlight=False)
    else:
        out.print("completeness not checked (--no-validate): run `expgraph validate` to check it and refresh "
                  "the stored scores", highlight=False)
    for warning in outcome.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)  # user text is not markup


def _unavailable(message: str):
    """The command of an importer that cannot be loaded (a plugin missing a dependency): the error, when used."""
    def command(args: Annotated[list[str] | None, typer.Argument(hidden=True)] = None) -> None:
        raise CliError(message)

    return command


def register(app: typer.Typer) -> None:
    for tracker in IMPORTERS:
        try:
            cls = IMPORTERS[tracker]
        except MissingDependency as error:
            import_app.command(tracker, help=f"Unavailable: {error}",
                               context_settings={"ignore_unknown_options": True})(_unavailable(str(error)))
            continue
        import_app.command(tracker)(_command(cls))
    app.add_typer(import_app, name="import")
