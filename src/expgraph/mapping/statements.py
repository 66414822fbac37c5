"""One import source's statements: its projects, own concepts, experiments, runs and results, in a deterministic
order; and the audit record of an import."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

import pyoxigraph
from pyoxigraph import NamedNode, RdfFormat, Triple

from expgraph import namespaces as ns
from expgraph.mapping import ntriples as nt
from expgraph.mapping.literals import date_time_lexical
from expgraph.mapping.minter import DEFAULT_BASE, Minter, concept, segment
from expgraph.mapping.ntriples import DCT, EG, PROV, RDF, RDFS, SKOS
from expgraph.mapping.runs import RunStatements
from expgraph.records import (
    Concept,
    Experiment,
    ImportBatch,
    Project,
    Result,
)


class SourceStatements(RunStatements):
    """The statements of one import source: runs (``RunStatements``), and its projects, experiments and results."""

    def own_concept(self, item: Concept) -> Iterator[str]:
        node = self.own[(item.scheme, item.notation)]
        scheme = ns.Namespace(f"{ns.VOCAB}{item.scheme}/")
        yield from self.labelled(node, [SKOS.Concept], item.label)
        yield f"{node} {SKOS.prefLabel} {nt.text(item.label)}"
        yield f"{node} {SKOS.notation} {nt.text(item.notation)}"
        yield f"{node} {SKOS.inScheme} {NamedNode(f'{ns.VOCAB}{item.scheme}')}"
        yield f"{node} {EG.inProject} {self.shared('project', item.project)}"
        if item.broader:
            yield f"{node} {SKOS.broader} {concept(scheme, item.broader)}"

    def project(self, project: Project) -> Iterator[str]:
        node = self.shared("project", project.name)
        yield from self.labelled(node, [EG.Project], project.name)
        yield f"{node} {DCT.identifier} {nt.text(project.name)}"
        yield f"{node} {DCT.title} {nt.text(project.title or project.name)}"
        if project.description:
            yield f"{node} {DCT.description} {nt.text(project.description)}"

    def default_project(self) -> Iterator[str]:
        """Experiments that name no project (MLflow without a ``project`` tag, Sacred, TensorBoard) go into one
        project per import source, labelled after the source and typed ``eg:DefaultProject``: so every experiment
        has a project, and the per-project answers (saved queries, lists, facets, scores) count these runs under
        where they came from instead of leaving them out, with no OPTIONAL in the queries. Described once."""
        node = str(self.mint.default_project())
        if node in self._described:
            return
        self._described.add(node)
        label = f"no project ({self.mint.tracker} {self.mint.source})"
        yield from self.labelled(node, [EG.Project, EG.DefaultProject], label)
        description = f"The experiments of the {self.mint.tracker} source {self.mint.source} that name no project."
        yield f"{node} {DCT.title} {nt.text(label)}"
        yield f"{node} {DCT.description} {nt.text(description)}"
        yield f"{node} {EG.tracker} {self.tracker}"

    def experiment(self, experiment: Experiment) -> Iterator[str]:
        node = str(self.mint.experiment(experiment.native_id))
        yield from self.labelled(node, [EG.Experiment], experiment.name)
        yield f"{node} {DCT.identifier} {nt.text(experiment.native_id)}"
        yield f"{node} {EG.tracker} {self.tracker}"
        if experiment.project:
            yield f"{node} {EG.inProject} {self.shared('project', experiment.project)}"
        else:
            yield f"{node} {EG.inProject} {self.mint.default_project()}"
            yield from self.default_project()
        yield from self.texts(node, [(DCT.description, experiment.description),
                                     (EG.researchQuestion, experiment.research_question),
                                     (EG.method, experiment.method)])
        yield from self.hypothesis(node, EG.hypothesis, experiment.hypothesis)
        for key, value in sorted(experiment.tags.items()):
            yield f"{node} {EG.tag} {nt.text(f'{key}={value}')}"

    def result(self, result: Result) -> Iterator[str]:
        node = str(self.mint.result(result.native_id))
        types = [EG.NegativeResult, EG.Result] if result.negative else [EG.Result]
        yield from self.labelled(node, types, result.title or result.native_id)
        yield f"{node} {DCT.identifier} {nt.text(result.native_id)}"
        yield f"{node} {EG.resultKind} {concept(ns.RESULT_KIND, result.kind)}"
        for run_id in result.runs:
            yield f"{node} {PROV.wasGeneratedBy} {self._runs.get(run_id) or self.mint.run(run_id)}"
        for ref in result.run_refs:  # a run in another source: kept as "tracker:native id" until linked
            yield f"{node} {EG.refersToRun} {nt.text(f'{ref.tracker}:{ref.native_id}')}"
        if result.experiment_id:
            yield f"{node} {EG.aboutExperiment} {self.mint.experiment(result.experiment_id)}"
        yield from self.hypothesis(node, EG.testsHypothesis, result.hypothesis)
        yield from self.texts(node, [(DCT.description, result.description),
                                     (EG.expectedOutcome, result.expected_outcome),
                                     (EG.observedOutcome, result.observed_outcome),
                                     (EG.errorText, result.error_text)])
        for deviation in result.deviations:
            yield f"{node} {EG.deviation} {nt.text(deviation)}"
        for lesson in result.lessons:
            yield f"{node} {EG.lessonLearned} {nt.text(lesson)}"
        if result.failure_mode:
            yield f"{node} {EG.failureMode} {self.vocab(ns.FAILURE_MODE, result.failure_mode)}"
        if result.suspected_cause:
            yield f"{node} {EG.suspectedCause} {self.vocab(ns.SUSPECTED_CAUSE, result.suspected_cause)}"
        for informed in result.informs:
            target = NamedNode(informed) if "://" in informed else self.mint.experiment(informed)
            yield f"{node} {EG.informs} {target}"


def batch_statements(batch: ImportBatch, base: str = DEFAULT_BASE) -> Iterator[str]:
    """All statements describing one import source, in a deterministic order, in N-Triples (``str(Triple)``:
    subject, predicate and object, without the final `` .``); what the store writes on import."""
    emit = SourceStatements(Minter(batch.tracker, batch.source, base), batch.concepts, batch.liveness)
    for project in batch.projects:
        yield from emit.project(project)
    for item in batch.concepts:
        yield from emit.own_concept(item)
    for experiment in batch.experiments:
        yield from emit.experiment(experiment)
    for run in batch.runs:
        yield from emit.run(run)
    for result in batch.results:
        yield from emit.result(result)


def map_batch(batch: ImportBatch, base: str = DEFAULT_BASE) -> Iterator[Triple]:
    """All triples describing one import source, in a deterministic order: :func:`batch_statements` as terms."""
    return _triples(batch_statements(batch, base))


def _triples(statements: Iterable[str]) -> Iterator[Triple]:
    text = "".join(f"{statement} .\n" for statement in statements)
    return (quad.triple for quad in pyoxigraph.parse(text, RdfFormat.N_TRIPLES))


def map_import_activity(
    batch: ImportBatch,
    *,
    started: datetime,
    ended: datetime,
    agent: str,
    tool_version: str,
    location: str,
    base: str = DEFAULT_BASE,
) -> list[Triple]:
    """The audit record of one import: who imported which source, when, with what tool, and how much."""
    mint = Minter(batch.tracker, batch.source, base)
    activity = str(NamedNode(f"{mint.source_base}import/{segment(date_time_lexical(started))}"))
    source = str(mint.import_source())
    agent_node = str(mint.shared("agent", agent))
    failures = sum(1 for run in batch.runs if run.status.is_failure)
    counts = [
        (EG.experimentCount, len(batch.experiments)),
        (EG.runCount, len(batch.runs)),
        (EG.failureCount, failures),
        (EG.negativeResultCount, sum(1 for result in batch.results if result.negative)),
        (EG.warningCount, len(batch.warnings)),
    ]
    statements = [
        f"{activity} {RDF.type} {EG.ImportActivity}",
        f"{activity} {RDF.type} {PROV.Activity}",
        f"{activity} {RDFS.label} {nt.text(f'import of {batch.tracker} source {location}')}",
        f"{activity} {PROV.startedAtTime} {nt.date_time(started)}",
        f"{activity} {PROV.endedAtTime} {nt.date_time(ended)}",
        f"{activity} {PROV.wasAssociatedWith} {agent_node}",
        f"{agent_node} {RDF.type} {PROV.Agent}",
        f"{agent_node} {RDFS.label} {nt.text(agent)}",
        f"{activity} {PROV.used} {source}",
        f"{activity} {EG.toolVersion} {nt.text(tool_version)}",
        f"{source} {RDF.type} {EG.ImportSource}",
        f"{source} {EG.tracker} {nt.text(batch.tracker)}",
        f"{source} {EG.sourceLocation} {nt.text(location)}",
        f"{source} {RDFS.label} {nt.text(f'{batch.tracker}: {location}')}",
    ]
    statements += [f"{activity} {predicate} {nt.integer(value)}" for predicate, value in counts]
    return list(_triples(statements))
