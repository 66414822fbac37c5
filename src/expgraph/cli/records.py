"""``expgraph new-record [PATH]``: write the blank template for a hand-written negative result."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from expgraph.cli.common import CliError, err
from expgraph.importers.records import TEMPLATE


def new_record(
    path: Annotated[str, typer.Argument(help="Where to write it; '-' prints it.")] = "negative-result.yaml",
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a blank negative-result record to fill in, then import it with `expgraph import records PATH`."""
    if path == "-":
        typer.echo(TEMPLATE, nl=False)
        return
    target = Path(path)
    if target.exists() and not force:
        raise CliError(f"{target}: already exists (use --force to overwrite)")
    try:
        target.write_text(TEMPLATE, encoding="utf-8")
    except OSError as error:
        raise CliError(f"{target}: cannot write ({error.strerror})") from None
    err.print(f"wrote {target}: fill it in, then run `expgraph import records {target}`", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("new-record")(new_record)
