"""Where the shipped ontology, vocabularies, shapes and saved queries are, installed or in a checkout, and which
graphs of a catalog hold the shipped ontology and vocabularies."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pyoxigraph import NamedNode

from expgraph.namespaces import GRAPHS

_PACKAGE = Path(__file__).resolve().parent
#: The graphs of the shipped ontology and vocabularies are named under these (see :func:`shipped_graph`).
SHIPPED_PREFIXES = (f"{GRAPHS}ontology/", f"{GRAPHS}vocab/")


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


def shipped_graph(path: Path) -> NamedNode:
    """The graph a shipped ontology or vocabulary file (one of :func:`ontology_files`) is loaded into."""
    kind = "vocab" if path.parent.name == "vocab" else "ontology"
    return NamedNode(f"{GRAPHS}{kind}/{path.stem}")


def is_shipped(graph: str) -> bool:
    """Whether a logical graph holds (a version of) the shipped ontology or a shipped vocabulary: the data every
    query and validation needs besides the catalog's own (classes, concepts, failure rules)."""
    return graph.startswith(SHIPPED_PREFIXES)


def shape_files() -> list[Path]:
    return sorted(data_dir("shapes").glob("*.ttl"))


def query_files() -> list[Path]:
    return sorted(data_dir("queries").glob("*.rq"))
