"""Records in, triples out: the only module that knows the ontology and mints IRIs.

IRIs are deterministic from (tracker, source identity, native id), so a re-import produces the same nodes and
replaces the previous version instead of duplicating it. Things that are the same across trackers (projects,
agents, parameters, measures, dataset checksums, commits, environments) get source-independent IRIs so that
cross-project queries meet on them.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from pyoxigraph import Literal, NamedNode, Triple

from expgraph.namespaces import (
    DCAT,
    DCT,
    EG,
    FAILURE_MODE,
    MLS,
    PROV,
    RDF,
    RDFS,
    RESULT_KIND,
    RUN_STATUS,
    SCHEMA,
    SKOS,
    SPDX,
    SUSPECTED_CAUSE,
    VOCAB,
    XSD,
    Namespace,
)
from expgraph.records import (
    Artifact,
    Checksum,
    CodeVersion,
    Concept,
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
    Scalar,
)

DEFAULT_BASE = "https://w3id.org/expgraph/id/"

_HEX = re.compile(r"[0-9A-Fa-f]+")
_SPDX_ALGORITHMS = {"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256", "blake2b256"}


def segment(text: str) -> str:
    """One percent-encoded IRI path segment for any unicode id (``/`` included)."""
    return quote(text, safe="")


def source_key(tracker: str, source: str) -> str:
    """A short stable key for an import source (tracker plus its identity: absolute path or URI)."""
    return hashlib.sha256(f"{tracker}\n{source}".encode()).hexdigest()[:16]


def source_graph(tracker: str, source: str, base: str = DEFAULT_BASE) -> NamedNode:
    """The named graph an import source lives in."""
    return NamedNode(f"{base}graph/{segment(tracker)}/{source_key(tracker, source)}")


# -- typed literals ---------------------------------------------------------------------------------------------


def double(value: float) -> Literal:
    """``xsd:double`` keeping NaN and infinities (XML Schema spells them NaN, INF, -INF)."""
    if math.isnan(value):
        lexical = "NaN"
    elif math.isinf(value):
        lexical = "INF" if value > 0 else "-INF"
    else:
        lexical = repr(float(value))
    return Literal(lexical, datatype=XSD.double)


def integer(value: int) -> Literal:
    return Literal(str(int(value)), datatype=XSD.integer)


def boolean(value: bool) -> Literal:
    return Literal("true" if value else "false", datatype=XSD.boolean)


def date_time(value: datetime) -> Literal:
    """``xsd:dateTime`` in UTC; naive datetimes are taken to be UTC already."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return Literal(value.isoformat().replace("+00:00", "Z"), datatype=XSD.dateTime)


def text(value: str) -> Literal:
    return Literal(value)


def scalar(value: Scalar) -> Literal:
    """The typed literal for a parameter value (bool before int: ``True`` is an ``int`` in Python)."""
    if isinstance(value, bool):
        return boolean(value)
    if isinstance(value, int):
        return integer(value)
    if isinstance(value, float):
        return double(value)
    return text(str(value))


# -- IRIs ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Minter:
    """Mints every IRI of one import source."""

    tracker: str
    source: str
    base: str = DEFAULT_BASE

    @property
    def source_base(self) -> str:
        return f"{self.base}{segment(self.tracker)}/{source_key(self.tracker, self.source)}/"

    def local(self, kind: str, native_id: str) -> NamedNode:
        return NamedNode(f"{self.source_base}{kind}/{segment(native_id)}")

    def run(self, native_id: str) -> NamedNode:
        return self.local("run", native_id)

    def experiment(self, native_id: str) -> NamedNode:
        return self.local("experiment", native_id)

    def result(self, native_id: str) -> NamedNode:
        return self.local("result", native_id)

    def shared(self, kind: str, name: str) -> NamedNode:
        return NamedNode(f"{self.base}{kind}/{segment(name)}")

    def import_source(self) -> NamedNode:
        return NamedNode(self.source_base.rstrip("/"))

    def snapshot(self, dataset: DatasetSnapshot) -> NamedNode:
        if dataset.checksum is not None:
            algorithm = dataset.checksum.algorithm.lower()
            return self.shared("dataset", f"{algorithm}-{checksum_value(dataset.checksum)}")
        return self.local("dataset", f"{dataset.name}@{dataset.version or ''}")


def checksum_value(checksum: Checksum) -> str:
    """Hex digests compare case-insensitively, so they are lower-cased; other encodings are kept as they are."""
    value = checksum.value.strip()
    return value.lower() if _HEX.fullmatch(value) else value


def concept(scheme: Namespace, value: str) -> NamedNode:
    """A vocabulary concept from its notation, or a project's own concept given as a full IRI."""
    if value.startswith(("http://", "https://", "urn:")):
        return NamedNode(value)
    return scheme.term(value)


def environment_digest(environment: Environment) -> str:
    parts = [
        environment.python_version or "",
        *sorted(environment.packages),
        environment.container_image or "",
        environment.hostname or "",
        environment.operating_system or "",
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


# -- the mapping -----------------------------------------------------------------------------------------------


class _Emitter:
    """Yields the triples of one import source; one small method per record type."""

    def __init__(self, minter: Minter, concepts: Iterable[Concept] = ()) -> None:
        self.mint = minter
        self.own = {(c.scheme, c.notation): self.mint.shared(f"project/{segment(c.project)}/{c.scheme}", c.notation)
                    for c in concepts}

    def vocab(self, scheme: Namespace, value: str) -> NamedNode:
        """A concept of ours, a full IRI, or a project's own concept minted in this batch."""
        name = str(scheme).removeprefix(VOCAB).rstrip("/")
        return self.own.get((name, value)) or concept(scheme, value)

    def own_concept(self, item: Concept) -> Iterator[Triple]:
        node = self.own[(item.scheme, item.notation)]
        scheme = Namespace(f"{VOCAB}{item.scheme}/")
        yield from self.labelled(node, [SKOS.Concept], item.label)
        yield Triple(node, SKOS.prefLabel, text(item.label))
        yield Triple(node, SKOS.notation, text(item.notation))
        yield Triple(node, SKOS.inScheme, NamedNode(f"{VOCAB}{item.scheme}"))
        yield Triple(node, EG.inProject, self.mint.shared("project", item.project))
        if item.broader:
            yield Triple(node, SKOS.broader, concept(scheme, item.broader))

    def labelled(self, node: NamedNode, types: Iterable[NamedNode], label: str | None) -> Iterator[Triple]:
        for rdf_type in types:
            yield Triple(node, RDF.type, rdf_type)
        if label:
            yield Triple(node, RDFS.label, text(label))

    def project(self, project: Project) -> Iterator[Triple]:
        node = self.mint.shared("project", project.name)
        yield from self.labelled(node, [EG.Project], project.name)
        yield Triple(node, DCT.identifier, text(project.name))
        yield Triple(node, DCT.title, text(project.title or project.name))
        if project.description:
            yield Triple(node, DCT.description, text(project.description))

    def hypothesis(self, node: NamedNode, hypothesis: Hypothesis) -> Iterator[Triple]:
        yield from self.labelled(node, [EG.Hypothesis], hypothesis.text)
        if hypothesis.expected_outcome:
            yield Triple(node, EG.expectedOutcome, text(hypothesis.expected_outcome))

    def experiment(self, experiment: Experiment) -> Iterator[Triple]:
        node = self.mint.experiment(experiment.native_id)
        yield from self.labelled(node, [EG.Experiment], experiment.name)
        yield Triple(node, DCT.identifier, text(experiment.native_id))
        yield Triple(node, EG.tracker, text(self.mint.tracker))
        if experiment.project:
            yield Triple(node, EG.inProject, self.mint.shared("project", experiment.project))
        if experiment.description:
            yield Triple(node, DCT.description, text(experiment.description))
        if experiment.research_question:
            yield Triple(node, EG.researchQuestion, text(experiment.research_question))
        if experiment.method:
            yield Triple(node, EG.method, text(experiment.method))
        if experiment.hypothesis:
            hypothesis = NamedNode(f"{node.value}/hypothesis")
            yield Triple(node, EG.hypothesis, hypothesis)
            yield from self.hypothesis(hypothesis, experiment.hypothesis)
        for key, value in sorted(experiment.tags.items()):
            yield Triple(node, EG.tag, text(f"{key}={value}"))

    def checksum(self, node: NamedNode, checksum: Checksum) -> Iterator[Triple]:
        algorithm = checksum.algorithm.lower().replace("-", "")
        checksum_node = NamedNode(f"{node.value}/checksum/{segment(algorithm)}")
        yield Triple(node, SPDX.checksum, checksum_node)
        yield Triple(checksum_node, RDF.type, SPDX.Checksum)
        if algorithm in _SPDX_ALGORITHMS:
            yield Triple(checksum_node, SPDX.algorithm, SPDX.term(f"checksumAlgorithm_{algorithm}"))
        yield Triple(checksum_node, SPDX.checksumValue, text(checksum_value(checksum)))

    def parameter(self, run: NamedNode, setting: ParameterSetting) -> Iterator[Triple]:
        node = NamedNode(f"{run.value}/param/{segment(setting.key)}")
        parameter = self.mint.shared("parameter", setting.key)
        yield Triple(run, MLS.hasInput, node)
        yield Triple(node, RDF.type, MLS.HyperParameterSetting)
        yield Triple(node, MLS.specifiedBy, parameter)
        yield Triple(node, MLS.hasValue, scalar(setting.value))
        if setting.original is not None and setting.original != str(setting.value):
            yield Triple(node, EG.originalValue, text(setting.original))
        yield Triple(parameter, RDF.type, MLS.HyperParameter)
        yield Triple(parameter, RDFS.label, text(setting.key))

    def metric(self, run: NamedNode, metric: MetricValue) -> Iterator[Triple]:
        node = NamedNode(f"{run.value}/metric/{segment(metric.key)}")
        measure = self.mint.shared("measure", metric.key)
        yield Triple(run, MLS.hasOutput, node)
        yield Triple(node, RDF.type, MLS.ModelEvaluation)
        yield Triple(node, MLS.specifiedBy, measure)
        yield Triple(node, MLS.hasValue, double(metric.value))
        if metric.step is not None:
            yield Triple(node, EG.step, integer(metric.step))
        if metric.timestamp is not None:
            yield Triple(node, EG.timestamp, date_time(metric.timestamp))
        if metric.history is not None:
            yield Triple(node, EG.firstValue, double(metric.history.first))
            yield Triple(node, EG.minValue, double(metric.history.minimum))
            yield Triple(node, EG.maxValue, double(metric.history.maximum))
            yield Triple(node, EG.valueCount, integer(metric.history.count))
        yield Triple(measure, RDF.type, MLS.EvaluationMeasure)
        yield Triple(measure, RDFS.label, text(metric.key))

    def dataset(self, run: NamedNode, dataset: DatasetSnapshot, index: int) -> Iterator[Triple]:
        node = self.mint.snapshot(dataset)
        series = self.mint.shared("dataset-series", dataset.name)
        yield Triple(run, PROV.used, node)
        yield from self.labelled(node, [DCAT.Dataset, PROV.Entity], dataset.name)
        yield Triple(node, DCAT.inSeries, series)
        yield from self.labelled(series, [DCAT.DatasetSeries], dataset.name)
        if dataset.version:
            yield Triple(node, DCAT.version, text(dataset.version))
        if dataset.location:
            yield Triple(node, EG.location, text(dataset.location))
        if dataset.checksum:
            yield from self.checksum(node, dataset.checksum)
        if dataset.context:
            usage = NamedNode(f"{run.value}/usage/{index}")
            role = self.mint.shared("role", dataset.context)
            yield Triple(run, PROV.qualifiedUsage, usage)
            yield Triple(usage, RDF.type, PROV.Usage)
            yield Triple(usage, PROV.entity, node)
            yield Triple(usage, PROV.hadRole, role)
            yield from self.labelled(role, [PROV.Role], dataset.context)

    def code(self, run: NamedNode, code: CodeVersion) -> Iterator[Triple]:
        node = self.mint.shared("code", f"{code.commit}" + ("+dirty" if code.dirty else ""))
        yield Triple(run, PROV.used, node)
        yield from self.labelled(node, [SCHEMA.SoftwareSourceCode, PROV.Entity], code.commit[:12])
        yield Triple(node, EG.commitHash, text(code.commit))
        if code.repository:
            yield Triple(node, SCHEMA.codeRepository, text(code.repository))
        if code.dirty is not None:
            yield Triple(node, EG.dirty, boolean(code.dirty))
        if code.branch:
            yield Triple(node, EG.branch, text(code.branch))

    def environment(self, run: NamedNode, environment: Environment) -> Iterator[Triple]:
        digest = environment_digest(environment)
        node = self.mint.shared("environment", digest[:32])
        yield Triple(run, PROV.used, node)
        label = " ".join(x for x in ["Python", environment.python_version, environment.hostname] if x)
        yield from self.labelled(node, [EG.Environment], label or "environment")
        if environment.python_version:
            yield Triple(node, EG.pythonVersion, text(environment.python_version))
        if environment.packages:
            package_digest = hashlib.sha256("\n".join(sorted(environment.packages)).encode()).hexdigest()
            yield Triple(node, EG.packageDigest, text(package_digest))
            for package in sorted(environment.packages):
                yield Triple(node, EG.package, text(package))
        if environment.container_image:
            yield Triple(node, EG.containerImage, text(environment.container_image))
        if environment.hostname:
            yield Triple(node, EG.hostname, text(environment.hostname))
        if environment.operating_system:
            yield Triple(node, EG.operatingSystem, text(environment.operating_system))

    def artifact(self, run: NamedNode, artifact: Artifact) -> Iterator[Triple]:
        node = NamedNode(f"{run.value}/artifact/{segment(artifact.path)}")
        types = [PROV.Entity, MLS.Model] if artifact.is_model else [PROV.Entity]
        yield Triple(run, PROV.generated, node)
        yield Triple(node, PROV.wasGeneratedBy, run)
        yield from self.labelled(node, types, artifact.path)
        if artifact.location:
            yield Triple(node, EG.location, text(artifact.location))
        if artifact.size is not None:
            yield Triple(node, DCAT.byteSize, integer(artifact.size))
        if artifact.checksum:
            yield from self.checksum(node, artifact.checksum)

    def run(self, run: Run) -> Iterator[Triple]:
        node = self.mint.run(run.native_id)
        yield from self.labelled(node, [EG.Run], run.name or run.native_id)
        yield Triple(node, DCT.identifier, text(run.native_id))
        yield Triple(node, EG.tracker, text(self.mint.tracker))
        yield Triple(node, EG.inExperiment, self.mint.experiment(run.experiment_id))
        yield Triple(node, EG.status, RUN_STATUS.term(run.status.value))
        if run.started:
            yield Triple(node, PROV.startedAtTime, date_time(run.started))
        if run.ended:
            yield Triple(node, PROV.endedAtTime, date_time(run.ended))
        if run.agent:
            agent = self.mint.shared("agent", run.agent.name)
            yield Triple(node, PROV.wasAssociatedWith, agent)
            yield from self.labelled(agent, [PROV.Agent], run.agent.name)
        if run.parent_id:
            yield Triple(node, EG.parentRun, self.mint.run(run.parent_id))
        if run.description:
            yield Triple(node, DCT.description, text(run.description))
        if run.error_text:
            yield Triple(node, EG.errorText, text(run.error_text))
        if run.exit_code is not None:
            yield Triple(node, EG.exitCode, integer(run.exit_code))
        if run.runtime_seconds is not None:
            yield Triple(node, EG.runtimeSeconds, double(run.runtime_seconds))
        if run.seed is not None:
            yield Triple(node, EG.seed, integer(run.seed))
        if run.deleted:
            yield Triple(node, EG.deleted, boolean(True))
        for key, value in sorted(run.tags.items()):
            yield Triple(node, EG.tag, text(f"{key}={value}"))
        for setting in run.params:
            yield from self.parameter(node, setting)
        for metric in run.metrics:
            yield from self.metric(node, metric)
        for index, dataset in enumerate(run.datasets):
            yield from self.dataset(node, dataset, index)
        if run.code:
            yield from self.code(node, run.code)
        if run.environment:
            yield from self.environment(node, run.environment)
        for artifact in run.artifacts:
            yield from self.artifact(node, artifact)

    def result(self, result: Result) -> Iterator[Triple]:
        node = self.mint.result(result.native_id)
        types = [EG.NegativeResult, EG.Result] if result.negative else [EG.Result]
        yield from self.labelled(node, types, result.title or result.native_id)
        yield Triple(node, DCT.identifier, text(result.native_id))
        yield Triple(node, EG.resultKind, concept(RESULT_KIND, result.kind))
        for run_id in result.runs:
            yield Triple(node, PROV.wasGeneratedBy, self.mint.run(run_id))
        for ref in result.run_refs:  # a run in another source: kept as "tracker:native id" until linked
            yield Triple(node, EG.refersToRun, text(f"{ref.tracker}:{ref.native_id}"))
        if result.experiment_id:
            yield Triple(node, EG.aboutExperiment, self.mint.experiment(result.experiment_id))
        if result.hypothesis:
            hypothesis = NamedNode(f"{node.value}/hypothesis")
            yield Triple(node, EG.testsHypothesis, hypothesis)
            yield from self.hypothesis(hypothesis, result.hypothesis)
        optional_texts = [
            (DCT.description, result.description),
            (EG.expectedOutcome, result.expected_outcome),
            (EG.observedOutcome, result.observed_outcome),
            (EG.errorText, result.error_text),
        ]
        for predicate, value in optional_texts:
            if value:
                yield Triple(node, predicate, text(value))
        for deviation in result.deviations:
            yield Triple(node, EG.deviation, text(deviation))
        for lesson in result.lessons:
            yield Triple(node, EG.lessonLearned, text(lesson))
        if result.failure_mode:
            yield Triple(node, EG.failureMode, self.vocab(FAILURE_MODE, result.failure_mode))
        if result.suspected_cause:
            yield Triple(node, EG.suspectedCause, self.vocab(SUSPECTED_CAUSE, result.suspected_cause))
        for informed in result.informs:
            target = NamedNode(informed) if "://" in informed else self.mint.experiment(informed)
            yield Triple(node, EG.informs, target)


def map_batch(batch: ImportBatch, base: str = DEFAULT_BASE) -> Iterator[Triple]:
    """All triples describing one import source, in a deterministic order."""
    emit = _Emitter(Minter(batch.tracker, batch.source, base), batch.concepts)
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
    stamp = date_time(started).value
    activity = NamedNode(f"{mint.source_base}import/{segment(stamp)}")
    source = mint.import_source()
    agent_node = mint.shared("agent", agent)
    failures = sum(1 for run in batch.runs if run.status.is_failure)
    counts = [
        (EG.experimentCount, len(batch.experiments)),
        (EG.runCount, len(batch.runs)),
        (EG.failureCount, failures),
        (EG.negativeResultCount, sum(1 for result in batch.results if result.negative)),
        (EG.warningCount, len(batch.warnings)),
    ]
    triples = [
        Triple(activity, RDF.type, EG.ImportActivity),
        Triple(activity, RDF.type, PROV.Activity),
        Triple(activity, RDFS.label, text(f"import of {batch.tracker} source {location}")),
        Triple(activity, PROV.startedAtTime, date_time(started)),
        Triple(activity, PROV.endedAtTime, date_time(ended)),
        Triple(activity, PROV.wasAssociatedWith, agent_node),
        Triple(agent_node, RDF.type, PROV.Agent),
        Triple(agent_node, RDFS.label, text(agent)),
        Triple(activity, PROV.used, source),
        Triple(activity, EG.toolVersion, text(tool_version)),
        Triple(source, RDF.type, EG.ImportSource),
        Triple(source, EG.tracker, text(batch.tracker)),
        Triple(source, EG.sourceLocation, text(location)),
        Triple(source, RDFS.label, text(f"{batch.tracker}: {location}")),
    ]
    triples += [Triple(activity, predicate, integer(value)) for predicate, value in counts]
    return triples
