"""Tracker importers: each module knows one tracker and yields plain records (see ``base``)."""

from expgraph.importers import dvc as _dvc  # noqa: F401  (registers the importer)
from expgraph.importers import mlflow as _mlflow  # noqa: F401  (registers the importer)
from expgraph.importers import records as _records  # noqa: F401  (registers the importer)
from expgraph.importers import sacred as _sacred  # noqa: F401  (registers the importer)
from expgraph.importers import tensorboard as _tensorboard  # noqa: F401  (registers the importer)
from expgraph.importers import wandb as _wandb  # noqa: F401  (registers the importer)
from expgraph.importers.base import IMPORTERS, Collector, Importer, SourceError, build_batch, register

__all__ = ["IMPORTERS", "Collector", "Importer", "SourceError", "build_batch", "register"]
