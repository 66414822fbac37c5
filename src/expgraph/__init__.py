"""expgraph: a knowledge-graph catalog of experiments, runs, datasets and negative results."""

from expgraph._version import __version__
from expgraph.records import (
    Agent,
    Artifact,
    Checksum,
    CodeVersion,
    DatasetSnapshot,
    Environment,
    Experiment,
    Hypothesis,
    ImportBatch,
    MetricValue,
    ParameterSetting,
    Project,
    Result,
    Run,
    RunRef,
    RunStatus,
)
from expgraph.store import Store, open_store


def __getattr__(name: str) -> object:
    """``capture`` is imported on first use: it brings in the importers, which ``import expgraph`` need not load."""
    if name == "capture":
        from expgraph.capturing import capture

        return capture
    raise AttributeError(f"module 'expgraph' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "capture"])


__all__ = [
    "Agent",
    "Artifact",
    "Checksum",
    "CodeVersion",
    "DatasetSnapshot",
    "Environment",
    "Experiment",
    "Hypothesis",
    "ImportBatch",
    "MetricValue",
    "ParameterSetting",
    "Project",
    "Result",
    "Run",
    "RunRef",
    "RunStatus",
    "Store",
    "__version__",
    "capture",
    "open_store",
]
