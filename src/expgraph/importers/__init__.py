"""Tracker importers: each module knows one tracker and yields plain records (see ``base``); ``registry`` finds
them (ours and plugins', through the ``expgraph.importers`` entry-point group)."""

from expgraph.importers.base import Collector, Importer, SourceError, build_batch
from expgraph.importers.registry import IMPORTERS

__all__ = ["IMPORTERS", "Collector", "Importer", "SourceError", "build_batch"]
