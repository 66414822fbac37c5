"""Records in, triples out: the only package that knows the ontology and mints IRIs.

IRIs are deterministic from (tracker, source identity, native id), so a re-import produces the same nodes and
replaces the previous version instead of duplicating it (``minter``). The statements are written as N-Triples text
(``ntriples``), one module per part: what the parts share (``emitter``), a run and what hangs below it (``runs``),
and one source's projects, experiments and results and the import's audit record (``statements``).
:func:`map_batch` parses the text back into triples for callers that want terms; ``literals`` makes typed
pyoxigraph literals for the rest of expgraph.
"""

from expgraph.mapping.literals import boolean, date_time, double, integer, scalar, text
from expgraph.mapping.minter import (
    DEFAULT_BASE,
    Minter,
    checksum_value,
    concept,
    environment_digest,
    segment,
    source_graph,
    source_key,
)
from expgraph.mapping.runs import PARAMETER_SYNONYMS, UNCOMPARED_PARAMETERS, comparable_settings
from expgraph.mapping.statements import batch_statements, map_batch, map_import_activity

__all__ = [
    "DEFAULT_BASE",
    "PARAMETER_SYNONYMS",
    "UNCOMPARED_PARAMETERS",
    "Minter",
    "batch_statements",
    "boolean",
    "checksum_value",
    "comparable_settings",
    "concept",
    "date_time",
    "double",
    "environment_digest",
    "integer",
    "map_batch",
    "map_import_activity",
    "scalar",
    "segment",
    "source_graph",
    "source_key",
    "text",
]
