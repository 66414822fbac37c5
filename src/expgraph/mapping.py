"""Records in, triples out: the only module that knows the ontology and mints IRIs.

IRIs are deterministic from (tracker, source identity, native id), so a re-import produces the same nodes and
replaces the previous version instead of duplicating it. Things that are the same across trackers (projects,
agents, parameters, measures, dataset checksums, commits, environments) get source-independent IRIs so that
cross-project queries meet on them.

The mapper writes its statements as N-Triples text (:func:`batch_statements`), exactly as pyoxigraph prints a
``Triple``: building a pyoxigraph ``Triple`` per statement, and the store a ``Quad`` per triple, took more than half
of an import (profiled at 10k MLflow runs), while the store parses text natively. :func:`map_batch` parses the text
back into triples for callers that want terms.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import pyoxigraph
from pyoxigraph import Literal, NamedNode, RdfFormat, Triple

from expgraph import namespaces as ns
from expgraph.completeness import SEED_PARAMETERS, lacking, run_seed
from expgraph.history import history_text
from expgraph.lexical import double_lexical as _double_lexical
from expgraph.lexical import original_value
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
    Liveness,
    MetricValue,
    ParameterSetting,
    Project,
    Result,
    Run,
    RunStatus,
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


def _date_time_lexical(value: datetime) -> str:
    """UTC; naive datetimes are taken to be UTC already."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


def double(value: float) -> Literal:
    """``xsd:double`` keeping NaN and infinities."""
    return Literal(_double_lexical(value), datatype=ns.XSD.double)


def integer(value: int) -> Literal:
    return Literal(str(int(value)), datatype=ns.XSD.integer)


def boolean(value: bool) -> Literal:
    return Literal("true" if value else "false", datatype=ns.XSD.boolean)


def date_time(value: datetime) -> Literal:
    """``xsd:dateTime`` in UTC; naive datetimes are taken to be UTC already."""
    return Literal(_date_time_lexical(value), datatype=ns.XSD.dateTime)


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


# The same literals written as N-Triples terms. Numbers, booleans and dates never need escaping; a string is written
# directly when it holds nothing pyoxigraph would escape (quotes, backslashes, control characters), else by
# pyoxigraph itself, so the text is always what ``str(Literal(...))`` gives (a test checks this).
_UNESCAPED = re.compile(r'[^\x00-\x1f"\\\x7f]*')
_DOUBLE = f'"^^<{ns.XSD.base}double>'
_INTEGER = f'"^^<{ns.XSD.base}integer>'
_BOOLEAN = {True: f'"true"^^<{ns.XSD.base}boolean>', False: f'"false"^^<{ns.XSD.base}boolean>'}
_DATE_TIME = f'"^^<{ns.XSD.base}dateTime>'


def _text(value: str) -> str:
    if value.isascii() and _UNESCAPED.fullmatch(value):
        return f'"{value}"'
    return str(Literal(value))


def _double(value: float) -> str:
    return f'"{_double_lexical(value)}{_DOUBLE}'


def _integer(value: int) -> str:
    return f'"{int(value)}{_INTEGER}'


def _date_time(value: datetime) -> str:
    return f'"{_date_time_lexical(value)}{_DATE_TIME}'


def _scalar(value: Scalar) -> str:
    if isinstance(value, bool):
        return _BOOLEAN[value]
    if isinstance(value, int):
        return _integer(value)
    if isinstance(value, float):
        return _double(value)
    return _text(str(value))


class _Terms:
    """A namespace's terms as N-Triples text (``<iri>``); each is looked up once, then read as a plain attribute."""

    def __init__(self, namespace: ns.Namespace) -> None:
        self.namespace = namespace

    def __getattr__(self, name: str) -> str:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.term(name)

    def term(self, name: str) -> str:
        written = self.__dict__.get(name)
        if written is None:
            written = self.__dict__[name] = str(self.namespace.term(name))
        return written


DCAT, DCT, EG, MLS, PROV = _Terms(ns.DCAT), _Terms(ns.DCT), _Terms(ns.EG), _Terms(ns.MLS), _Terms(ns.PROV)
RDF, RDFS, SCHEMA, SKOS, SPDX = _Terms(ns.RDF), _Terms(ns.RDFS), _Terms(ns.SCHEMA), _Terms(ns.SKOS), _Terms(ns.SPDX)
RUN_STATUS = _Terms(ns.RUN_STATUS)


def _below(node: str, *parts: str) -> str:
    """The node under ``node`` (an IRI written ``<...>``) at one percent-encoded path segment per part."""
    return f"{node[:-1]}/{'/'.join(segment(part) for part in parts)}>"


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

    def default_project(self) -> NamedNode:
        """The project of this source's experiments that name none (see ``_Emitter.default_project``)."""
        return NamedNode(f"{self.source_base}project")

    def snapshot(self, dataset: DatasetSnapshot) -> NamedNode:
        if dataset.checksum is not None:
            algorithm = dataset.checksum.algorithm.lower()
            return self.shared("dataset", f"{algorithm}-{checksum_value(dataset.checksum)}")
        return self.local("dataset", f"{dataset.name}@{dataset.version or ''}")


def checksum_value(checksum: Checksum) -> str:
    """Hex digests compare case-insensitively, so they are lower-cased; other encodings are kept as they are."""
    value = checksum.value.strip()
    return value.lower() if _HEX.fullmatch(value) else value


def concept(scheme: ns.Namespace, value: str) -> NamedNode:
    """A vocabulary concept from its notation, or a project's own concept given as a full IRI."""
    if value.startswith(("http://", "https://", "urn:")):
        return NamedNode(value)
    return scheme.term(value)


#: Parameter names trackers and projects spell differently for the same thing; a configuration compares them as one.
PARAMETER_SYNONYMS = {"lr": "learning_rate", "learning-rate": "learning_rate"}
#: Parameters a configuration leaves out: they change between repeats of one set-up.
UNCOMPARED_PARAMETERS = frozenset(SEED_PARAMETERS)
_CONFIGURATION_LABEL = 160


def comparable_settings(params: Iterable[ParameterSetting]) -> list[tuple[str, str, Scalar]]:
    """A run's settings as a configuration compares them, sorted and each once: (name, value in N-Triples, value),
    synonyms named alike, the seed left out."""
    settings = {(PARAMETER_SYNONYMS.get(p.key, p.key), _scalar(p.value)): p.value
                for p in params if p.key not in UNCOMPARED_PARAMETERS}
    return [(key, written, settings[key, written]) for key, written in sorted(settings)]


def environment_digest(environment: Environment) -> str:
    parts = [
        environment.python_version or "",
        *sorted(environment.packages),
        environment.container_image or "",
        environment.hostname or "",
        environment.operating_system or "",
    ]
    # what captures add is digested only when present, so the environments importers describe keep their IRIs
    parts += [f"{name}={value}" for name, value in _captured_environment(environment)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


_ENVIRONMENT_FACTS = {"executable": "pythonExecutable", "cpu": "cpu", "gpu": "gpu"}


def _captured_environment(environment: Environment) -> list[tuple[str, str]]:
    facts = [("executable", environment.executable), ("cpu", environment.cpu), ("gpu", environment.gpu)]
    facts += [("lock", f"{lock.path} {checksum_value(lock.checksum)}") for lock in environment.lock_files
              if lock.checksum]
    return [(name, value) for name, value in facts if value]


# -- the mapping -----------------------------------------------------------------------------------------------


class _Emitter:
    """Yields the statements of one import source; one small method per record type.

    Nodes are IRIs already written as N-Triples (``<...>``), minted through :class:`Minter` (which checks them).
    """

    def __init__(self, minter: Minter, concepts: Iterable[Concept] = (), liveness: Liveness | None = None) -> None:
        self.mint = minter
        self.liveness = liveness
        self.tracker = _text(minter.tracker)
        self._shared: dict[tuple[str, str], str] = {}
        self._described: set[str] = set()
        self._runs: dict[str, str] = {}  # native id to node, for runs minted in another source (Run.minted_in)
        self.own = {(c.scheme, c.notation): self.shared(f"project/{segment(c.project)}/{c.scheme}", c.notation)
                    for c in concepts}

    def shared(self, kind: str, name: str) -> str:
        """A node shared across sources; a batch names the same few parameters, measures and agents many times."""
        node = self._shared.get((kind, name))
        if node is None:
            node = self._shared[(kind, name)] = str(self.mint.shared(kind, name))
        return node

    def vocab(self, scheme: ns.Namespace, value: str) -> str:
        """A concept of ours, a full IRI, or a project's own concept minted in this batch."""
        name = str(scheme).removeprefix(ns.VOCAB).rstrip("/")
        return self.own.get((name, value)) or str(concept(scheme, value))

    def own_concept(self, item: Concept) -> Iterator[str]:
        node = self.own[(item.scheme, item.notation)]
        scheme = ns.Namespace(f"{ns.VOCAB}{item.scheme}/")
        yield from self.labelled(node, [SKOS.Concept], item.label)
        yield f"{node} {SKOS.prefLabel} {_text(item.label)}"
        yield f"{node} {SKOS.notation} {_text(item.notation)}"
        yield f"{node} {SKOS.inScheme} {NamedNode(f'{ns.VOCAB}{item.scheme}')}"
        yield f"{node} {EG.inProject} {self.shared('project', item.project)}"
        if item.broader:
            yield f"{node} {SKOS.broader} {concept(scheme, item.broader)}"

    def labelled(self, node: str, types: Iterable[str], label: str | None) -> Iterator[str]:
        for rdf_type in types:
            yield f"{node} {RDF.type} {rdf_type}"
        if label:
            yield f"{node} {RDFS.label} {_text(label)}"

    def project(self, project: Project) -> Iterator[str]:
        node = self.shared("project", project.name)
        yield from self.labelled(node, [EG.Project], project.name)
        yield f"{node} {DCT.identifier} {_text(project.name)}"
        yield f"{node} {DCT.title} {_text(project.title or project.name)}"
        if project.description:
            yield f"{node} {DCT.description} {_text(project.description)}"

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
        yield f"{node} {DCT.title} {_text(label)}"
        yield f"{node} {DCT.description} {_text(description)}"
        yield f"{node} {EG.tracker} {self.tracker}"

    def hypothesis(self, node: str, hypothesis: Hypothesis) -> Iterator[str]:
        yield from self.labelled(node, [EG.Hypothesis], hypothesis.text)
        if hypothesis.expected_outcome:
            yield f"{node} {EG.expectedOutcome} {_text(hypothesis.expected_outcome)}"

    def experiment(self, experiment: Experiment) -> Iterator[str]:
        node = str(self.mint.experiment(experiment.native_id))
        yield from self.labelled(node, [EG.Experiment], experiment.name)
        yield f"{node} {DCT.identifier} {_text(experiment.native_id)}"
        yield f"{node} {EG.tracker} {self.tracker}"
        if experiment.project:
            yield f"{node} {EG.inProject} {self.shared('project', experiment.project)}"
        else:
            yield f"{node} {EG.inProject} {self.mint.default_project()}"
            yield from self.default_project()
        if experiment.description:
            yield f"{node} {DCT.description} {_text(experiment.description)}"
        if experiment.research_question:
            yield f"{node} {EG.researchQuestion} {_text(experiment.research_question)}"
        if experiment.method:
            yield f"{node} {EG.method} {_text(experiment.method)}"
        if experiment.hypothesis:
            hypothesis = _below(node, "hypothesis")
            yield f"{node} {EG.hypothesis} {hypothesis}"
            yield from self.hypothesis(hypothesis, experiment.hypothesis)
        for key, value in sorted(experiment.tags.items()):
            yield f"{node} {EG.tag} {_text(f'{key}={value}')}"

    def checksum(self, node: str, checksum: Checksum) -> Iterator[str]:
        algorithm = checksum.algorithm.lower().replace("-", "")
        checksum_node = _below(node, "checksum", algorithm)
        yield f"{node} {SPDX.checksum} {checksum_node}"
        yield f"{checksum_node} {RDF.type} {SPDX.Checksum}"
        if algorithm in _SPDX_ALGORITHMS:
            yield f"{checksum_node} {SPDX.algorithm} {SPDX.term(f'checksumAlgorithm_{algorithm}')}"
        yield f"{checksum_node} {SPDX.checksumValue} {_text(checksum_value(checksum))}"

    def parameter(self, run: str, setting: ParameterSetting) -> Iterator[str]:
        node = _below(run, "param", setting.key)
        parameter = self.shared("parameter", setting.key)
        yield f"{run} {MLS.hasInput} {node}"
        yield f"{node} {RDF.type} {MLS.HyperParameterSetting}"
        yield f"{node} {MLS.specifiedBy} {parameter}"
        yield f"{node} {MLS.hasValue} {_scalar(setting.value)}"
        if (original := original_value(setting.value, setting.original)) is not None:
            yield f"{node} {EG.originalValue} {_text(original)}"
        yield f"{parameter} {RDF.type} {MLS.HyperParameter}"
        yield f"{parameter} {RDFS.label} {_text(setting.key)}"

    def configuration(self, run: str, params: Iterable[ParameterSetting]) -> Iterator[str]:
        """The run's configuration, a node shared by every run with the same settings in any source, made of
        setting nodes (one per name and value) also shared; so that "has this failed elsewhere?", "same set-up,
        different outcome" and "the values of one parameter" are index lookups from a few nodes rather than a
        pass over every run's parameters (seconds at 100k runs). Each node is described once per batch."""
        settings = comparable_settings(params)
        if not settings:
            return
        identity = "\n".join(f"{key}={written}" for key, written, _ in settings)
        node = self.shared("configuration", hashlib.sha256(identity.encode()).hexdigest()[:32])
        yield f"{run} {EG.hasConfiguration} {node}"
        if node in self._described:
            return
        self._described.add(node)
        texts = [f"{key}={scalar(value).value}" for key, _, value in settings]  # 0.001, 32, true, adam
        label = ", ".join(texts)
        if len(label) > _CONFIGURATION_LABEL:
            label = f"{label[:_CONFIGURATION_LABEL].rsplit(', ', 1)[0]}, ... ({len(settings)} settings)"
        yield from self.labelled(node, [EG.Configuration], label)
        for (key, written, _), text in zip(settings, texts, strict=True):
            setting = self.shared("setting", hashlib.sha256(f"{key}\n{written}".encode()).hexdigest()[:32])
            yield f"{node} {EG.hasSetting} {setting}"
            if setting not in self._described:
                self._described.add(setting)
                yield from self.labelled(setting, [EG.Setting], text)
                yield f"{setting} {EG.settingKey} {_text(key)}"
                yield f"{setting} {EG.settingValue} {written}"

    def metric(self, run: str, metric: MetricValue) -> Iterator[str]:
        node = _below(run, "metric", metric.key)
        measure = self.shared("measure", metric.key)
        yield f"{run} {MLS.hasOutput} {node}"
        yield f"{node} {RDF.type} {MLS.ModelEvaluation}"
        yield f"{node} {MLS.specifiedBy} {measure}"
        yield f"{node} {MLS.hasValue} {_double(metric.value)}"
        if (original := original_value(metric.value)) is not None:  # 1.0 comes back "1", 1e-05 "0.00001"
            yield f"{node} {EG.originalValue} {_text(original)}"
        if metric.step is not None:
            yield f"{node} {EG.step} {_integer(metric.step)}"
        if metric.timestamp is not None:
            yield f"{node} {EG.timestamp} {_date_time(metric.timestamp)}"
        if metric.history is not None:
            yield f"{node} {EG.firstValue} {_double(metric.history.first)}"
            yield f"{node} {EG.minValue} {_double(metric.history.minimum)}"
            yield f"{node} {EG.maxValue} {_double(metric.history.maximum)}"
            yield f"{node} {EG.valueCount} {_integer(metric.history.count)}"
            if metric.history.points:  # every value, for charts: one literal (see expgraph.history)
                yield f"{node} {EG.history} {_text(history_text(metric.history.points))}"
        yield f"{measure} {RDF.type} {MLS.EvaluationMeasure}"
        yield f"{measure} {RDFS.label} {_text(metric.key)}"

    def dataset(self, run: str, dataset: DatasetSnapshot, index: int, *, generated: bool = False) -> Iterator[str]:
        """A snapshot the run used, or (``generated``) wrote: by checksum the same node as the runs reading it."""
        node = str(self.mint.snapshot(dataset))
        series = self.shared("dataset-series", dataset.name)
        if generated:
            yield f"{run} {PROV.generated} {node}"
            yield f"{node} {PROV.wasGeneratedBy} {run}"
        else:
            yield f"{run} {PROV.used} {node}"
        yield from self.labelled(node, [DCAT.Dataset, PROV.Entity], dataset.name)
        yield f"{node} {DCAT.inSeries} {series}"
        yield from self.labelled(series, [DCAT.DatasetSeries], dataset.name)
        if dataset.version:
            yield f"{node} {DCAT.version} {_text(dataset.version)}"
        if dataset.location:
            yield f"{node} {EG.location} {_text(dataset.location)}"
        if dataset.checksum:
            yield from self.checksum(node, dataset.checksum)
        if dataset.context and not generated:
            usage = _below(run, "usage", str(index))
            role = self.shared("role", dataset.context)
            yield f"{run} {PROV.qualifiedUsage} {usage}"
            yield f"{usage} {RDF.type} {PROV.Usage}"
            yield f"{usage} {PROV.entity} {node}"
            yield f"{usage} {PROV.hadRole} {role}"
            yield from self.labelled(role, [PROV.Role], dataset.context)

    def code(self, run: str, code: CodeVersion) -> Iterator[str]:
        state = "+dirty" if code.dirty else ""
        if code.dirty and code.diff_digest:  # two dirty states of one commit are two code versions
            state += f".{code.diff_digest[:16]}"
        node = self.shared("code", f"{code.commit}{state}")
        yield f"{run} {PROV.used} {node}"
        yield from self.labelled(node, [SCHEMA.SoftwareSourceCode, PROV.Entity], code.commit[:12])
        yield f"{node} {EG.commitHash} {_text(code.commit)}"
        if code.repository:
            yield f"{node} {SCHEMA.codeRepository} {_text(code.repository)}"
        if code.dirty is not None:
            yield f"{node} {EG.dirty} {_BOOLEAN[bool(code.dirty)]}"
        if code.branch:
            yield f"{node} {EG.branch} {_text(code.branch)}"
        if code.diff_digest:
            yield f"{node} {EG.diffDigest} {_text(code.diff_digest)}"
        if code.checkout:
            yield f"{node} {EG.location} {_text(code.checkout)}"

    def environment(self, run: str, environment: Environment) -> Iterator[str]:
        digest = environment_digest(environment)
        node = self.shared("environment", digest[:32])
        yield f"{run} {PROV.used} {node}"
        label = " ".join(x for x in ["Python", environment.python_version, environment.hostname] if x)
        yield from self.labelled(node, [EG.Environment], label or "environment")
        if environment.python_version:
            yield f"{node} {EG.pythonVersion} {_text(environment.python_version)}"
        if environment.packages:
            package_digest = hashlib.sha256("\n".join(sorted(environment.packages)).encode()).hexdigest()
            yield f"{node} {EG.packageDigest} {_text(package_digest)}"
            for package in sorted(environment.packages):
                yield f"{node} {EG.package} {_text(package)}"
        if environment.container_image:
            yield f"{node} {EG.containerImage} {_text(environment.container_image)}"
        if environment.hostname:
            yield f"{node} {EG.hostname} {_text(environment.hostname)}"
        if environment.operating_system:
            yield f"{node} {EG.operatingSystem} {_text(environment.operating_system)}"
        for name, value in _captured_environment(environment):
            if name != "lock":
                yield f"{node} {EG.term(_ENVIRONMENT_FACTS[name])} {_text(value)}"
        for lock in environment.lock_files:
            lock_node = _below(node, "lock", lock.path)
            yield f"{node} {EG.lockFile} {lock_node}"
            yield from self.labelled(lock_node, [PROV.Entity], lock.path)
            if lock.location:
                yield f"{lock_node} {EG.location} {_text(lock.location)}"
            if lock.checksum:
                yield from self.checksum(lock_node, lock.checksum)

    def artifact(self, run: str, artifact: Artifact) -> Iterator[str]:
        node = _below(run, "artifact", artifact.path)
        types = [PROV.Entity, MLS.Model] if artifact.is_model else [PROV.Entity]
        yield f"{run} {PROV.generated} {node}"
        yield f"{node} {PROV.wasGeneratedBy} {run}"
        yield from self.labelled(node, types, artifact.path)
        if artifact.location:
            yield f"{node} {EG.location} {_text(artifact.location)}"
        if artifact.size is not None:
            yield f"{node} {DCAT.byteSize} {_integer(artifact.size)}"
        if artifact.checksum:
            yield from self.checksum(node, artifact.checksum)

    def run(self, run: Run) -> Iterator[str]:
        own = run.minted_in is None
        if own:
            node = str(self.mint.run(run.native_id))
            yield from self.run_core(node, run)
        else:  # a tracker's run (a capture that logged to it): its importer says what the run is, this adds to it
            mint = Minter(run.minted_in.tracker, run.minted_in.source, self.mint.base)
            node = self._runs[run.native_id] = str(mint.run(run.native_id))
            yield f"{node} {RDF.type} {EG.Run}"
            yield f"{node} {EG.inExperiment} {mint.experiment(run.experiment_id)}"
        if run.agent:
            agent = self.shared("agent", run.agent.name)
            yield f"{node} {PROV.wasAssociatedWith} {agent}"
            yield from self.labelled(agent, [PROV.Agent], run.agent.name)
        if run.parent_id:
            yield f"{node} {EG.parentRun} {self.mint.run(run.parent_id)}"
        if run.description:
            yield f"{node} {DCT.description} {_text(run.description)}"
        if run.error_text:
            yield f"{node} {EG.errorText} {_text(run.error_text)}"
        if run.exit_code is not None:
            yield f"{node} {EG.exitCode} {_integer(run.exit_code)}"
        if run.runtime_seconds is not None and own:
            yield f"{node} {EG.runtimeSeconds} {_double(run.runtime_seconds)}"
        if (seed := run_seed(run)) is not None:  # the tracker's seed, or a parameter named as one
            yield f"{node} {EG.seed} {_integer(seed)}"
        if run.deleted:
            yield f"{node} {EG.deleted} {_BOOLEAN[True]}"
        if run.command:
            yield f"{node} {EG.command} {_text(run.command)}"
        if run.signal:
            yield f"{node} {EG.signal} {_text(run.signal)}"
        if run.peak_memory is not None:
            yield f"{node} {EG.peakMemoryBytes} {_integer(run.peak_memory)}"
        for key, value in sorted(run.tags.items()):
            yield f"{node} {EG.tag} {_text(f'{key}={value}')}"
        if own:  # a tracker's run: its importer states what it lacks and its parameters
            for need in lacking(run):  # what the should-shapes will warn about, stated so audits count statements
                yield f"{node} {EG.lacks} {need.term}"
            for setting in run.params:
                yield from self.parameter(node, setting)
            yield from self.configuration(node, run.params)
        for metric in run.metrics:
            yield from self.metric(node, metric)
        for index, dataset in enumerate(run.datasets):
            yield from self.dataset(node, dataset, index)
        for index, dataset in enumerate(run.outputs):
            yield from self.dataset(node, dataset, index, generated=True)
        if run.code:
            yield from self.code(node, run.code)
        if run.environment:
            yield from self.environment(node, run.environment)
        for artifact in run.artifacts:
            yield from self.artifact(node, artifact)

    def run_core(self, node: str, run: Run) -> Iterator[str]:
        """What only a run's own source says of it: its name, identity, status and times."""
        yield from self.labelled(node, [EG.Run], run.name or run.native_id)
        yield f"{node} {DCT.identifier} {_text(run.native_id)}"
        yield f"{node} {EG.tracker} {self.tracker}"
        yield f"{node} {EG.inExperiment} {self.mint.experiment(run.experiment_id)}"
        yield f"{node} {EG.status} {RUN_STATUS.term(run.status.value)}"
        if run.status is RunStatus.RUNNING:
            yield from self.signs_of_life(node, run)
        if run.started:
            yield f"{node} {PROV.startedAtTime} {_date_time(run.started)}"
        if run.ended:
            yield f"{node} {PROV.endedAtTime} {_date_time(run.ended)}"

    def signs_of_life(self, node: str, run: Run) -> Iterator[str]:
        """A running run's last sign of life and, once that is too long ago, its inferred status: beside the
        tracker's own status, which stays what the tracker said."""
        if run.last_seen:
            yield f"{node} {EG.lastSignOfLife} {_date_time(run.last_seen)}"
        if self.liveness is not None and self.liveness.presumed_dead(run):
            yield f"{node} {EG.inferredStatus} {RUN_STATUS.term('presumed-dead')}"

    def result(self, result: Result) -> Iterator[str]:
        node = str(self.mint.result(result.native_id))
        types = [EG.NegativeResult, EG.Result] if result.negative else [EG.Result]
        yield from self.labelled(node, types, result.title or result.native_id)
        yield f"{node} {DCT.identifier} {_text(result.native_id)}"
        yield f"{node} {EG.resultKind} {concept(ns.RESULT_KIND, result.kind)}"
        for run_id in result.runs:
            yield f"{node} {PROV.wasGeneratedBy} {self._runs.get(run_id) or self.mint.run(run_id)}"
        for ref in result.run_refs:  # a run in another source: kept as "tracker:native id" until linked
            yield f"{node} {EG.refersToRun} {_text(f'{ref.tracker}:{ref.native_id}')}"
        if result.experiment_id:
            yield f"{node} {EG.aboutExperiment} {self.mint.experiment(result.experiment_id)}"
        if result.hypothesis:
            hypothesis = _below(node, "hypothesis")
            yield f"{node} {EG.testsHypothesis} {hypothesis}"
            yield from self.hypothesis(hypothesis, result.hypothesis)
        optional_texts = [
            (DCT.description, result.description),
            (EG.expectedOutcome, result.expected_outcome),
            (EG.observedOutcome, result.observed_outcome),
            (EG.errorText, result.error_text),
        ]
        for predicate, value in optional_texts:
            if value:
                yield f"{node} {predicate} {_text(value)}"
        for deviation in result.deviations:
            yield f"{node} {EG.deviation} {_text(deviation)}"
        for lesson in result.lessons:
            yield f"{node} {EG.lessonLearned} {_text(lesson)}"
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
    emit = _Emitter(Minter(batch.tracker, batch.source, base), batch.concepts, batch.liveness)
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
    activity = str(NamedNode(f"{mint.source_base}import/{segment(_date_time_lexical(started))}"))
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
        f"{activity} {RDFS.label} {_text(f'import of {batch.tracker} source {location}')}",
        f"{activity} {PROV.startedAtTime} {_date_time(started)}",
        f"{activity} {PROV.endedAtTime} {_date_time(ended)}",
        f"{activity} {PROV.wasAssociatedWith} {agent_node}",
        f"{agent_node} {RDF.type} {PROV.Agent}",
        f"{agent_node} {RDFS.label} {_text(agent)}",
        f"{activity} {PROV.used} {source}",
        f"{activity} {EG.toolVersion} {_text(tool_version)}",
        f"{source} {RDF.type} {EG.ImportSource}",
        f"{source} {EG.tracker} {_text(batch.tracker)}",
        f"{source} {EG.sourceLocation} {_text(location)}",
        f"{source} {RDFS.label} {_text(f'{batch.tracker}: {location}')}",
    ]
    statements += [f"{activity} {predicate} {_integer(value)}" for predicate, value in counts]
    return list(_triples(statements))
