"""Tracker importers: each module knows one tracker and yields plain records (see ``base``)."""

from expgraph.importers.base import IMPORTERS, Collector, Importer, SourceError, build_batch, register

__all__ = ["IMPORTERS", "Collector", "Importer", "SourceError", "build_batch", "register"]
