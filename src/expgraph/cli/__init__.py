"""The ``expgraph`` command: thin commands that parse, call the catalog services and print."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape
from typer.core import TyperGroup

from expgraph._version import __version__
from expgraph.cli import data, demo, history, imports, query, record, records, serve, team, validate
from expgraph.cli.common import CliError, State, err
from expgraph.settings import SettingsError, load_settings
from expgraph.store import StoreError


def hoist_global_options(args: list[str], params: list) -> list[str]:
    """``args`` with the root command's options (and their values) moved before the subcommand.

    Click only reads a group's options before its subcommand; moving them lets ``expgraph stats --store X`` mean
    ``expgraph --store X stats`` for every command at once. Nothing after ``--`` moves (it belongs to a command
    line given to a subcommand). An option that needs a value and comes last without one is a ValueError.
    """
    takes_value = {name: not param.is_flag and not param.count
                   for param in params if param.param_type_name == "option"
                   for name in (*param.opts, *param.secondary_opts)}
    front: list[str] = []
    rest: list[str] = []
    position = 0
    while position < len(args):
        arg = args[position]
        if arg == "--":
            rest.extend(args[position:])
            break
        name, equals, _ = arg.partition("=")
        if name not in takes_value:
            rest.append(arg)
            position += 1
            continue
        width = 2 if takes_value[name] and not equals else 1
        if position + width > len(args):
            raise ValueError(f"Option '{name}' requires an argument.")
        front.extend(args[position:position + width])
        position += width
    return front + rest


class GlobalOptionsAnywhere(TyperGroup):
    """The root group: its options work before or after the subcommand (see :func:`hoist_global_options`)."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:  # ctx: click.Context (vendored by Typer)
        try:
            hoisted = hoist_global_options(args, self.params)
        except ValueError as error:
            ctx.fail(str(error))  # a usage error, as click reports its own
        return super().parse_args(ctx, hoisted)


app = typer.Typer(
    name="expgraph",
    cls=GlobalOptionsAnywhere,
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
TokenOption = Annotated[str | None, typer.Option(help="Token for an expgraph server (env EXPGRAPH_TOKEN).")]
BaseOption = Annotated[str | None, typer.Option(help="Prefix of minted IRIs (env EXPGRAPH_BASE_IRI).")]
TimeoutOption = Annotated[float | None, typer.Option(
    help="Seconds to wait for a tracker server or remote store to connect and answer (env EXPGRAPH_TIMEOUT; "
    "default 10).")]
VersionOption = Annotated[
    bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
]


@app.callback()
def root(
    ctx: typer.Context,
    store: StoreOption = None,
    endpoint: EndpointOption = None,
    token: TokenOption = None,
    base_iri: BaseOption = None,
    timeout: TimeoutOption = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks instead of one-line errors.")] = False,
    version: VersionOption = False,
) -> None:
    # Global options go before or after the command: `expgraph --store X stats` = `expgraph stats --store X`.
    settings = load_settings({"store": store, "endpoint": endpoint, "base_iri": base_iri, "timeout": timeout,
                              "token": token})
    if settings.timeout <= 0:
        raise SettingsError(f"timeout from {settings.sources.get('timeout', 'default')}: must be more than 0 seconds")
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
team.register(app)
history.register(app)


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
