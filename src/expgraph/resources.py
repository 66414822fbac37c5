"""Where the shipped ontology, vocabularies, shapes and saved queries are, installed or in a checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    """``ontology``, ``shapes`` or ``queries``: packaged in the wheel, or at the top of a source checkout."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parents[1] / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"expgraph's {name}/ folder is missing from the installation")


def ontology_files() -> list[Path]:
    """The ontology, its alignment and the SKOS vocabularies, in a stable order."""
    root = data_dir("ontology")
    return sorted(root.glob("*.ttl")) + sorted((root / "vocab").glob("*.ttl"))


def shape_files() -> list[Path]:
    return sorted(data_dir("shapes").glob("*.ttl"))


def query_files() -> list[Path]:
    return sorted(data_dir("queries").glob("*.rq"))
