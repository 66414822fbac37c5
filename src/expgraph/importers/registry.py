"""Which importers exist: ours, and those other packages add through the ``expgraph.importers`` entry-point group.

A plugin package declares, in its ``pyproject.toml``::

    [project.entry-points."expgraph.importers"]
    mytracker = "my_package.importer:MyTrackerImporter"

and ``expgraph import mytracker SOURCE`` appears (docs/contributing.md). Ours are declared the same way in
expgraph's own ``pyproject.toml``; :data:`BUILT_IN` names them again so that an installation whose metadata is
older than the code (an editable install, a source checkout on ``PYTHONPATH``) still finds them. A built-in name
cannot be taken over by a plugin.

Names are known without importing anything; an importer's module is imported the first time it is asked for. A
plugin that cannot be imported (a missing dependency) is an error when it is used, not when expgraph starts.
"""

from __future__ import annotations

import configparser
import importlib
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from expgraph.importers.base import Importer, MissingDependency

GROUP = "expgraph.importers"

#: Our importers by tracker name, as ``module:class`` (the same as our entry points in ``pyproject.toml``).
BUILT_IN = {
    "dvc": "expgraph.importers.dvc:DvcImporter",
    "mlflow": "expgraph.importers.mlflow:MlflowImporter",
    "records": "expgraph.importers.records:RecordsImporter",
    "sacred": "expgraph.importers.sacred:SacredImporter",
    "tensorboard": "expgraph.importers.tensorboard:TensorBoardImporter",
    "wandb": "expgraph.importers.wandb:WandbImporter",
}


class ImporterRegistry(Mapping[str, type[Importer]]):
    """Importer classes by tracker name, found in :data:`BUILT_IN` and the entry-point ``group``, loaded lazily."""

    def __init__(self, group: str = GROUP, built_in: Mapping[str, str] = BUILT_IN) -> None:
        self.group = group
        self.built_in = dict(built_in)
        self._targets: dict[str, str] | None = None
        self._loaded: dict[str, type[Importer]] = {}

    def targets(self) -> dict[str, str]:
        """``module:class`` per tracker name: the built-in ones, then the plugins' (read from the installed
        packages' metadata once)."""
        if self._targets is None:
            self._targets = dict(sorted((entry_points(self.group) | self.built_in).items()))
        return self._targets

    def refresh(self) -> None:
        """Look at the installed packages again (after installing a plugin in a running process)."""
        self._targets = None
        self._loaded.clear()

    def __getitem__(self, name: str) -> type[Importer]:
        if name not in self._loaded:
            target = self.targets()[name]  # KeyError for an unknown tracker, as a dict
            self._loaded[name] = _load(name, target)
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.targets())

    def __len__(self) -> int:
        return len(self.targets())

    def __contains__(self, name: object) -> bool:
        return name in self.targets()


def entry_points(group: str, path: list[str] | None = None) -> dict[str, str]:
    """``name: module:attribute`` of the entry points in ``group`` of the packages installed on ``path``
    (``sys.path``), the first on the path winning a name.

    Read from the ``entry_points.txt`` files of the ``.dist-info`` and ``.egg-info`` folders directly, parsing only
    those that mention the group: ``importlib.metadata.entry_points`` builds a distribution object per installed
    package first, a noticeable part of every ``expgraph`` start in a venv with the trackers installed (figures:
    docs/importers.md, "Adding a tracker")."""
    header = f"[{group}]"
    found: dict[str, str] = {}
    for folder in path if path is not None else sys.path:
        try:
            names = sorted(os.listdir(folder or "."))
        except OSError:  # a zip file, or a folder gone
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            file = Path(folder or ".", name, "entry_points.txt")
            try:
                text = file.read_text(encoding="utf-8")
            except OSError:
                continue
            if header not in text:
                continue
            parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
            parser.optionxform = str  # type: ignore[assignment,method-assign]  (names keep their case)
            try:
                parser.read_string(text, source=str(file))
            except configparser.Error:
                continue  # a damaged metadata file: that package's entry points are not ours to judge
            for point, value in parser.items(group) if parser.has_section(group) else ():
                found.setdefault(point, value.strip())
    return found


def _load(name: str, target: str) -> type[Importer]:
    """The class ``module:attribute`` names, checked to be an importer for ``name``; a one-line error otherwise."""
    module_name, _, attribute = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attribute)
    except ImportError as error:
        raise MissingDependency(f"the {name!r} importer ({target}) cannot be loaded: {error}") from None
    except AttributeError:
        raise MissingDependency(f"the {name!r} importer ({target}): {module_name} has no {attribute!r}") from None
    if not (isinstance(cls, type) and issubclass(cls, Importer)):
        raise MissingDependency(f"the {name!r} importer ({target}) is not an expgraph Importer subclass")
    if (tracker := getattr(cls, "tracker", None)) != name:
        raise MissingDependency(f"the {name!r} importer ({target}) says its tracker is {tracker!r}")
    return cls


#: The importers of this installation; the CLI makes one ``import`` subcommand per name.
IMPORTERS = ImporterRegistry()
