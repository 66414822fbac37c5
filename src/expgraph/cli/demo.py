"""``expgraph demo``: build the bundled example catalog and serve it."""

from __future__ import annotations

import shutil
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from expgraph.cli.common import CliError, err, out, print_json, state
from expgraph.cli.serve import HostOption, PortOption, run_server
from expgraph.wording import plural


class DemoFormat(StrEnum):
    text = "text"
    json = "json"


def demo(
    ctx: typer.Context,
    host: HostOption = None,
    port: PortOption = None,
    serve: Annotated[bool, typer.Option(
        help="Serve the catalog after building it; --no-serve builds, prints the store path and counts, and "
        "keeps the store.")] = True,
    fmt: Annotated[DemoFormat, typer.Option("--format", help="Summary format (with --no-serve).")] = DemoFormat.text,
) -> None:
    """Build an example catalog from small stores written by the real trackers (MLflow, Sacred, W&B, TensorBoard,
    DVC, hand-written records) and serve it. Trackers whose client library is not installed are skipped.

    With --store DIR on the command line (before or after `demo`) the catalog is built into DIR and kept, the
    examples copied beside it into DIR.examples; otherwise into a temporary store removed when the server stops.
    """
    from expgraph.catalog import prepare
    from expgraph.demo import build_demo
    from expgraph.store import EmbeddedStore, StoreError

    settings = state(ctx).settings
    store = Path(settings.store) if settings.sources.get("store") == "command line" else None
    temporary = store is None
    if store is None:
        workdir = Path(tempfile.mkdtemp(prefix="expgraph-demo-"))
        store = workdir / "store"
    else:
        workdir = store.with_name(store.name + ".examples")
        workdir.mkdir(parents=True, exist_ok=True)
    quiet = fmt is DemoFormat.json
    catalog, keep = None, not temporary
    try:
        catalog = prepare(EmbeddedStore(store))
        report = build_demo(catalog, workdir, note=(lambda m: None) if quiet else
                            (lambda m: err.print(m, highlight=False, markup=False)))
        if not report.imported:
            raise CliError("the demo found no example it could import: " + "; ".join(report.skipped))
        if quiet:
            print_json(report.as_dict())
        else:
            counts = report.counts
            out.print(f"demo catalog at {store}: {plural(counts['runs'], 'run')} ({counts['failed_runs']} failed or "
                      f"killed) in {plural(counts['experiments'], 'experiment')} of "
                      f"{plural(counts['projects'], 'project')} from {plural(counts['trackers'], 'tracker')}, "
                      f"{plural(counts['negative_results'], 'negative result')}",
                      highlight=False, markup=False)
            if any("pip install" in message for message in report.skipped):
                err.print("for every tracker's example: pip install 'expgraph[all]'", highlight=False, markup=False)
        keep = keep or not serve  # --no-serve keeps even a temporary store, to be looked at afterwards
        if serve:
            run_server(catalog, settings, host, port)
    except StoreError as error:
        raise CliError(str(error)) from None
    finally:
        if catalog is not None:
            catalog.close()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def register(app: typer.Typer) -> None:
    app.command()(demo)
