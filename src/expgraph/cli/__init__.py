"""The ``expgraph`` command: thin commands that parse, call the catalog services and print."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from expgraph import __version__
from expgraph.cli import data, demo, imports, query, record, records, serve, validate
from expgraph.cli.common import CliError, State, err
from expgraph.settings import SettingsError, load_settings
from expgraph.store import StoreError

app = typer.Typer(
    name="expgraph",
    help="A knowledge-graph catalog of experiments, runs, datasets and negative results.\n\n"
    "Import runs from MLflow, Sacred, W&B, TensorBoard, DVC or hand-written records, check them with SHACL, "
    "query them with SPARQL and browse them as an HTML catalog.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        print(f"expgraph {__version__}")
        raise typer.Exit()


StoreOption = Annotated[
    str | None, typer.Option(help="Embedded store directory (env EXPGRAPH_STORE; default ./.expgraph).")
]
EndpointOption = Annotated[
    str | None, typer.Option(help="Remote SPARQL 1.1 endpoint URL to use instead (env EXPGRAPH_ENDPOINT).")
]
BaseOption = Annotated[str | None, typer.Option(help="Prefix of minted IRIs (env EXPGRAPH_BASE_IRI).")]
VersionOption = Annotated[
    bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
]


@app.callback()
def root(
    ctx: typer.Context,
    store: StoreOption = None,
    endpoint: EndpointOption = None,
    base_iri: BaseOption = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks instead of one-line errors.")] = False,
    version: VersionOption = False,
) -> None:
    settings = load_settings({"store": store, "endpoint": endpoint, "base_iri": base_iri})
    ctx.obj = State(settings=settings, debug=debug)
    ctx.call_on_close(ctx.obj.close)


data.register(app)
imports.register(app)
records.register(app)
serve.register(app)
demo.register(app)
validate.register(app)
query.register(app)
record.register(app)


def main() -> None:
    """Entry point: one clear line per error, a traceback only with --debug."""
    debug = "--debug" in sys.argv
    try:
        code = app(standalone_mode=False)  # without standalone mode, click returns a typer.Exit's code
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except (CliError, StoreError, SettingsError, ValueError, OSError) as error:
        if debug:
            raise
        err.print(f"[red]error:[/red] {escape(str(error))}", highlight=False)  # user text is not markup
        sys.exit(getattr(error, "code", 2))
    except Exception as error:  # click usage errors carry their own exit code and message
        # Typer >= 0.22 vendors click (typer._click), so its exceptions are not click.ClickException: duck-type.
        if hasattr(error, "show") and isinstance(getattr(error, "exit_code", None), int):
            error.show()
            sys.exit(error.exit_code)
        raise
