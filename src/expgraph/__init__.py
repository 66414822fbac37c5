"""expgraph: a knowledge-graph catalog of experiments, runs, datasets and negative results."""

from expgraph.capture import capture
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

__version__ = "0.1.0"

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
