"""``expgraph validate``: check the catalog against the SHACL shapes; a CI gate with exit code 1 on failure."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from expgraph.cli.common import CliError, err, state


class ReportFormat(StrEnum):
    text = "text"
    json = "json"
    turtle = "turtle"
    html = "html"


class Level(StrEnum):
    violation = "violation"
    warning = "warning"
    info = "info"


def validate(
    ctx: typer.Context,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="text (grouped tables), json, turtle (a "
                                              "standard sh:ValidationReport) or html (a standalone page).")]
    = ReportFormat.text,
    fail_on: Annotated[Level, typer.Option(help="Exit 1 when any result is at or above this severity.")]
    = Level.violation,
    min_score: Annotated[float | None, typer.Option(help="Exit 1 when the completeness of --project (or of the "
                                                    "whole catalog) is below this share, 0 to 1.")] = None,
    project: Annotated[str | None, typer.Option(help="Only this project's records (its name or IRI).")] = None,
    severity: Annotated[list[Level] | None, typer.Option(help="Only results of this severity (repeatable).")]
    = None,
    focus: Annotated[list[str] | None, typer.Option(help="Only results about this record IRI (repeatable).")]
    = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to this file.")] = None,
    shapes: Annotated[list[Path] | None, typer.Option("--shapes", help="Also validate with the shapes in this RDF "
                                                      "file (repeatable; Turtle or any RDF format).")] = None,
    default_shapes: Annotated[bool, typer.Option(help="Use the shipped shapes (and the store's shapes graphs); "
                                                 "--no-default-shapes uses only the --shapes files.")] = True,
    timings: Annotated[bool, typer.Option("--timings", help="Also list on stderr what each compiled check cost "
                                          "(CPU and wall seconds, results), costliest first.")] = False,
) -> None:
    """Check completeness against the SHACL shapes and refresh the stored completeness scores.

    Exit 1 when a result is at or above --fail-on (default: any violation) or the completeness is below
    --min-score. Example for CI: expgraph validate --fail-on violation --min-score 0.8 --project vision
    """
    from expgraph.validation import Shapes, validate_catalog
    from expgraph.validation.report import render
    from expgraph.validation.scores import project_iri

    if min_score is not None and not 0 <= min_score <= 1:
        raise CliError(f"--min-score must be between 0 and 1, got {min_score}")
    store = state(ctx).store()
    try:
        chosen = Shapes.load(shapes, defaults=default_shapes, store=store if default_shapes else None)
    except ValueError as error:
        raise CliError(str(error)) from None
    report, scores = validate_catalog(store, chosen)
    if timings:
        print_timings(report)
    gate = report
    if project is not None:
        node = project_iri(store, project)
        if node is None:
            raise CliError(f"no project named {project!r} in the catalog")
        members = {n for n, projects in scores.project_of.items() if node.value in projects}
        report = report.filtered(focus=members)
        gate = report
        scores.projects = {node.value: scores.projects[node.value]} if node.value in scores.projects else {}
        score = scores.projects.get(node.value)
        score_value = score.score if score is not None else None
    else:
        score_value = scores.overall().score
    if focus:
        report = gate = report.filtered(focus=focus)
    if severity:
        report = report.filtered(severities=[s.value for s in severity])
    text = render(report, scores, fmt.value, fail_on=fail_on.value)
    if output is None:
        sys.stdout.write(text)
    else:
        tmp = output.with_name(output.name + ".part")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(output)
        err.print(f"report written to {output}", highlight=False)
    failed = not gate.conforms(fail_on.value)
    if min_score is not None and score_value is not None and score_value < min_score:
        err.print(f"completeness {score_value:.1%} is below --min-score {min_score:.1%}", highlight=False)
        failed = True
    if failed:
        counts = gate.counts()
        err.print(f"validation failed: {counts['violation']} violations, {counts['warning']} warnings "
                  f"(fail on {fail_on.value})", highlight=False)
        raise typer.Exit(1)


def print_timings(report) -> None:
    """The compiled checks' costs on stderr, costliest first: where a slow validation spends its time."""
    shapes = report.shapes
    err.print(f"{'cpu s':>7} {'wall s':>7} {'results':>8}  check", highlight=False)
    for timing in sorted(report.timings, key=lambda t: -t.cpu_seconds):
        component = timing.component.rsplit("#", 1)[-1].removesuffix("ConstraintComponent")
        err.print(f"{timing.cpu_seconds:7.3f} {timing.seconds:7.3f} {timing.results:8d}  "
                  f"{shapes.describe(timing.shape).name} · {component}", highlight=False, markup=False)
    total = sum(t.cpu_seconds for t in report.timings)
    err.print(f"{total:7.3f} cpu s in {len(report.timings)} checks; validation took {report.seconds:.2f} s",
              highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(validate)
