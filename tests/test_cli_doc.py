"""docs/cli.md is generated from the Typer app and the settings table; it must be current and complete."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import typer.main

from expgraph.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "cli.md"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_cli_doc", ROOT / "scripts" / "gen_cli_doc.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _command_paths(command, path):
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _command_paths(sub, [*path, name])


def test_every_command_and_option_is_documented() -> None:
    from expgraph.cli import app

    text = DOC.read_text(encoding="utf-8")
    root = typer.main.get_command(app)
    paths = [" ".join(p) for p in _command_paths(root, ["expgraph"]) if len(p) > 1]
    assert {"expgraph demo", "expgraph sparql", "expgraph import", "expgraph load"} <= set(paths)
    missing = [p for p in paths if f"## `{p}`" not in text]
    assert not missing, f"commands missing from docs/cli.md (run python scripts/gen_cli_doc.py): {missing}"


def test_every_setting_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [s.name for s in SETTINGS if f"| `{s.name}` | `{s.env}` |" not in text]
    assert not missing, f"settings missing from docs/cli.md (run python scripts/gen_cli_doc.py): {missing}"


def test_cli_doc_is_current() -> None:
    generated = _generator().render()
    assert DOC.read_text(encoding="utf-8") == generated, "docs/cli.md is stale: run python scripts/gen_cli_doc.py"
