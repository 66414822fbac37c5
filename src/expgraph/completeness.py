"""What a run needs to be reproducible: one definition for the mapper's ``eg:lacks``, the run page and ``validate``.

The should-shapes (``shapes/should.ttl``, sh:Warning) are what ``validate`` checks and the completeness score counts.
Each need below names the shape that checks it, so the three readers agree: the mapper states ``eg:lacks`` from
the run's record with :func:`lacking`, the run page lists those statements by :attr:`Need.label`, and a test
imports every real tracker's fixture and requires ``validate``'s warnings for each run to be exactly these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyoxigraph import NamedNode

from expgraph import namespaces as ns
from expgraph.records import Run, RunStatus

#: Parameter names that hold the run's random seed, in every tracker (Sacred's ``seed`` config entry is one).
SEED_PARAMETERS = ("seed", "random_seed", "rng_seed")

SHAPES = "https://w3id.org/expgraph/shapes#"


def run_seed(run: Run) -> int | None:
    """The run's seed: the one its tracker records as such, else an integer parameter named as a seed."""
    if run.seed is not None:
        return run.seed
    for name in SEED_PARAMETERS:
        for setting in run.params:
            if setting.key == name and isinstance(setting.value, int) and not isinstance(setting.value, bool):
                return setting.value
    return None


@dataclass(frozen=True)
class Need:
    """One thing a reproducible run records: how the page names it, what ``eg:lacks`` names when it is missing
    (a class, or the property ``eg:seed``), the shape that checks it, and the test on a run's record."""

    label: str
    term: NamedNode
    shape: str
    missing: Callable[[Run], bool]


RUN_NEEDS: tuple[Need, ...] = (
    Need("code version", ns.SCHEMA.SoftwareSourceCode, f"{SHAPES}Run-code", lambda run: run.code is None),
    Need("dataset snapshot", ns.DCAT.Dataset, f"{SHAPES}Run-dataset", lambda run: not run.datasets),
    # no dataset, or one without a checksum: the snapshot's own shape (Dataset-checksum) warns for the latter
    Need("dataset checksum", ns.SPDX.Checksum, f"{SHAPES}Dataset-checksum",
         lambda run: not run.datasets or any(dataset.checksum is None for dataset in run.datasets)),
    Need("environment", ns.EG.Environment, f"{SHAPES}Run-environment", lambda run: run.environment is None),
    Need("random seed", ns.EG.seed, f"{SHAPES}Run-seed", lambda run: run_seed(run) is None),
    Need("who ran it", ns.PROV.Agent, f"{SHAPES}Run-agent", lambda run: run.agent is None),
    Need("end time", ns.PROV.End, f"{SHAPES}FinishedRunEnded",
         lambda run: run.ended is None and run.status is RunStatus.FINISHED),
)

#: The page's name of each ``eg:lacks`` value.
LABELS = {need.term.value: need.label for need in RUN_NEEDS}


def lacking(run: Run) -> list[Need]:
    """What the run's record is missing, in the order of :data:`RUN_NEEDS`."""
    return [need for need in RUN_NEEDS if need.missing(run)]
