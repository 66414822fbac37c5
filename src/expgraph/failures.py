"""Classifying why a run failed, with rules kept as data in the failure-mode vocabulary.

Each failure-mode concept may carry ``eg:errorPattern`` regexes (matched case-insensitively against the error
text) and an ``eg:rulePriority`` (lower is tried first). A project adds its own rules by loading a Turtle file
with its own concepts (``skos:broader`` one of ours) and patterns: ``expgraph load my-failure-modes.ttl``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from expgraph.namespaces import FAILURE_MODE
from expgraph.records import MetricValue, Result, Run
from expgraph.store import Store

RULES_QUERY = """
SELECT ?concept ?pattern ?priority WHERE {
  ?concept <https://w3id.org/expgraph#errorPattern> ?pattern .
  OPTIONAL { ?concept <https://w3id.org/expgraph#rulePriority> ?priority }
}
"""

#: Metric keys whose non-finite final value means numerical instability.
_LOSS_KEY = re.compile(r"loss|nll|perplexity|error", re.IGNORECASE)


@dataclass(frozen=True)
class Rule:
    concept: str  # a notation of ours, or the IRI of a project's concept
    pattern: re.Pattern[str]
    priority: int


class FailureClassifier:
    """Picks a failure mode for a failed run: the first matching rule by priority, else ``unknown``."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = sorted(rules, key=lambda rule: (rule.priority, rule.concept))

    @classmethod
    def from_store(cls, store: Store) -> FailureClassifier:
        """The rules of the shipped vocabulary plus every rule a project loaded into the catalog."""
        rules = []
        for row in store.select(RULES_QUERY):
            iri = row["concept"].value
            notation = iri.removeprefix(str(FAILURE_MODE)) if iri.startswith(str(FAILURE_MODE)) else iri
            priority = int(row["priority"].value) if "priority" in row else 100
            try:
                pattern = re.compile(row["pattern"].value, re.IGNORECASE)
            except re.error as error:
                raise ValueError(f"failure-mode rule on <{iri}> is not a valid regex: {error}") from None
            rules.append(Rule(notation, pattern, priority))
        return cls(rules)

    def classify(self, error_text: str | None, metrics: Iterable[MetricValue] = ()) -> str:
        if error_text:
            for rule in self.rules:
                if rule.pattern.search(error_text):
                    return rule.concept
        for metric in metrics:
            if _LOSS_KEY.search(metric.key) and not math.isfinite(metric.value):
                return "numerical-instability"
        return "unknown"


def negative_result_for(run: Run, classifier: FailureClassifier, *, last_sign: datetime | None = None) -> Result:
    """The negative result every failed or killed run yields: an execution failure with its failure mode. A run
    presumed dead (its tracker says running; ``last_sign`` is when it last showed life) yields one too: a process
    that vanished without a word was almost always killed outright (the OOM killer, SIGKILL, a lost machine)."""
    mode = classifier.classify(run.error_text, run.metrics)
    dead = last_sign is not None
    if mode == "unknown" and (run.status.value == "killed" or dead):
        mode = "killed"
    state = "presumed dead" if dead else run.status.value
    observed = (f"the tracker still says {run.status.value}, but the run showed no sign of life after "
                f"{last_sign.isoformat()}" if last_sign else f"the run ended {run.status.value}")
    return Result(
        native_id=f"run-{run.native_id}",
        kind="execution-failure",
        negative=True,
        title=f"{state}: {run.name or run.native_id}",
        runs=(run.native_id,),
        experiment_id=run.experiment_id,
        error_text=run.error_text,
        observed_outcome=observed,
        failure_mode=mode,
    )
