"""A run's statements: what it is, its parameters and configuration, metrics, inputs and outputs, code version,
environment and artifacts."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

from expgraph.completeness import SEED_PARAMETERS, lacking, run_seed
from expgraph.history import history_text
from expgraph.lexical import original_value
from expgraph.mapping import ntriples as nt
from expgraph.mapping.emitter import Emitter
from expgraph.mapping.literals import scalar
from expgraph.mapping.minter import ENVIRONMENT_FACTS, Minter, captured_environment, environment_digest
from expgraph.mapping.ntriples import DCAT, DCT, EG, MLS, PROV, RDF, RDFS, RUN_STATUS, SCHEMA
from expgraph.records import (
    Artifact,
    CodeVersion,
    DatasetSnapshot,
    Environment,
    MetricValue,
    ParameterSetting,
    Run,
    RunStatus,
    Scalar,
)

#: Parameter names trackers and projects spell differently for the same thing; a configuration compares them as one.
PARAMETER_SYNONYMS = {"lr": "learning_rate", "learning-rate": "learning_rate"}
#: Parameters a configuration leaves out: they change between repeats of one set-up.
UNCOMPARED_PARAMETERS = frozenset(SEED_PARAMETERS)


def comparable_settings(params: Iterable[ParameterSetting]) -> list[tuple[str, str, Scalar]]:
    """A run's settings as a configuration compares them, sorted and each once: (name, value in N-Triples, value),
    synonyms named alike, the seed left out."""
    settings = {(PARAMETER_SYNONYMS.get(p.key, p.key), nt.scalar(p.value)): p.value
                for p in params if p.key not in UNCOMPARED_PARAMETERS}
    return [(key, written, settings[key, written]) for key, written in sorted(settings)]


_CONFIGURATION_LABEL = 160


class RunStatements(Emitter):
    """The statements of one run and everything hanging below it."""

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
        yield from self.texts(node, [(DCT.description, run.description), (EG.errorText, run.error_text)])
        if run.exit_code is not None:
            yield f"{node} {EG.exitCode} {nt.integer(run.exit_code)}"
        if run.runtime_seconds is not None and own:
            yield f"{node} {EG.runtimeSeconds} {nt.double(run.runtime_seconds)}"
        if (seed := run_seed(run)) is not None:  # the tracker's seed, or a parameter named as one
            yield f"{node} {EG.seed} {nt.integer(seed)}"
        if run.deleted:
            yield f"{node} {EG.deleted} {nt.BOOLEAN[True]}"
        if run.command:
            yield f"{node} {EG.command} {nt.text(run.command)}"
        if run.signal:
            yield f"{node} {EG.signal} {nt.text(run.signal)}"
        if run.peak_memory is not None:
            yield f"{node} {EG.peakMemoryBytes} {nt.integer(run.peak_memory)}"
        for key, value in sorted(run.tags.items()):
            yield f"{node} {EG.tag} {nt.text(f'{key}={value}')}"
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
        yield f"{node} {DCT.identifier} {nt.text(run.native_id)}"
        yield f"{node} {EG.tracker} {self.tracker}"
        yield f"{node} {EG.inExperiment} {self.mint.experiment(run.experiment_id)}"
        yield f"{node} {EG.status} {RUN_STATUS.term(run.status.value)}"
        if run.status is RunStatus.RUNNING:
            yield from self.signs_of_life(node, run)
        if run.started:
            yield f"{node} {PROV.startedAtTime} {nt.date_time(run.started)}"
        if run.ended:
            yield f"{node} {PROV.endedAtTime} {nt.date_time(run.ended)}"

    def signs_of_life(self, node: str, run: Run) -> Iterator[str]:
        """A running run's last sign of life and, once that is too long ago, its inferred status: beside the
        tracker's own status, which stays what the tracker said."""
        if run.last_seen:
            yield f"{node} {EG.lastSignOfLife} {nt.date_time(run.last_seen)}"
        if self.liveness is not None and self.liveness.presumed_dead(run):
            yield f"{node} {EG.inferredStatus} {RUN_STATUS.term('presumed-dead')}"

    def valued(self, run: str, link: str, node: str, kind: str, specifier: str, value: str,
               original: str | None) -> Iterator[str]:
        """A parameter setting or a measurement (ML Schema): a node below the run, of ``kind``, specified by the
        parameter or measure shared across sources, with its value and the tracker's own spelling of it when the
        RDF literal would not give it back."""
        yield f"{run} {link} {node}"
        yield f"{node} {RDF.type} {kind}"
        yield f"{node} {MLS.specifiedBy} {specifier}"
        yield f"{node} {MLS.hasValue} {value}"
        if original is not None:
            yield f"{node} {EG.originalValue} {nt.text(original)}"

    def parameter(self, run: str, setting: ParameterSetting) -> Iterator[str]:
        parameter = self.shared("parameter", setting.key)
        yield from self.valued(run, MLS.hasInput, nt.below(run, "param", setting.key), MLS.HyperParameterSetting,
                               parameter, nt.scalar(setting.value), original_value(setting.value, setting.original))
        yield f"{parameter} {RDF.type} {MLS.HyperParameter}"
        yield f"{parameter} {RDFS.label} {nt.text(setting.key)}"

    def configuration(self, run: str, params: Iterable[ParameterSetting]) -> Iterator[str]:
        """The run's configuration, a node shared by every run with the same settings in any source, made of
        setting nodes (one per name and value) also shared; so that "has this failed elsewhere?", "same set-up,
        different outcome" and "the values of one parameter" are index lookups from a few nodes rather than a
        pass over every run's parameters. Each node is described once per batch."""
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
                yield f"{setting} {EG.settingKey} {nt.text(key)}"
                yield f"{setting} {EG.settingValue} {written}"

    def metric(self, run: str, metric: MetricValue) -> Iterator[str]:
        node = nt.below(run, "metric", metric.key)
        measure = self.shared("measure", metric.key)
        # original_value: 1.0 comes back "1", 1e-05 "0.00001"
        yield from self.valued(run, MLS.hasOutput, node, MLS.ModelEvaluation, measure, nt.double(metric.value),
                               original_value(metric.value))
        if metric.step is not None:
            yield f"{node} {EG.step} {nt.integer(metric.step)}"
        if metric.timestamp is not None:
            yield f"{node} {EG.timestamp} {nt.date_time(metric.timestamp)}"
        if metric.history is not None:
            yield f"{node} {EG.firstValue} {nt.double(metric.history.first)}"
            yield f"{node} {EG.minValue} {nt.double(metric.history.minimum)}"
            yield f"{node} {EG.maxValue} {nt.double(metric.history.maximum)}"
            yield f"{node} {EG.valueCount} {nt.integer(metric.history.count)}"
            if metric.history.points:  # every value, for charts: one literal (see expgraph.history)
                yield f"{node} {EG.history} {nt.text(history_text(metric.history.points))}"
        yield f"{measure} {RDF.type} {MLS.EvaluationMeasure}"
        yield f"{measure} {RDFS.label} {nt.text(metric.key)}"

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
            yield f"{node} {DCAT.version} {nt.text(dataset.version)}"
        if dataset.location:
            yield f"{node} {EG.location} {nt.text(dataset.location)}"
        if dataset.checksum:
            yield from self.checksum(node, dataset.checksum)
        if dataset.context and not generated:
            usage = nt.below(run, "usage", str(index))
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
        yield f"{node} {EG.commitHash} {nt.text(code.commit)}"
        if code.repository:
            yield f"{node} {SCHEMA.codeRepository} {nt.text(code.repository)}"
        if code.dirty is not None:
            yield f"{node} {EG.dirty} {nt.BOOLEAN[bool(code.dirty)]}"
        if code.branch:
            yield f"{node} {EG.branch} {nt.text(code.branch)}"
        if code.diff_digest:
            yield f"{node} {EG.diffDigest} {nt.text(code.diff_digest)}"
        if code.checkout:
            yield f"{node} {EG.location} {nt.text(code.checkout)}"

    def environment(self, run: str, environment: Environment) -> Iterator[str]:
        digest = environment_digest(environment)
        node = self.shared("environment", digest[:32])
        yield f"{run} {PROV.used} {node}"
        label = " ".join(x for x in ["Python", environment.python_version, environment.hostname] if x)
        yield from self.labelled(node, [EG.Environment], label or "environment")
        if environment.python_version:
            yield f"{node} {EG.pythonVersion} {nt.text(environment.python_version)}"
        if environment.packages:
            package_digest = hashlib.sha256("\n".join(sorted(environment.packages)).encode()).hexdigest()
            yield f"{node} {EG.packageDigest} {nt.text(package_digest)}"
            for package in sorted(environment.packages):
                yield f"{node} {EG.package} {nt.text(package)}"
        if environment.container_image:
            yield f"{node} {EG.containerImage} {nt.text(environment.container_image)}"
        if environment.hostname:
            yield f"{node} {EG.hostname} {nt.text(environment.hostname)}"
        if environment.operating_system:
            yield f"{node} {EG.operatingSystem} {nt.text(environment.operating_system)}"
        for name, value in captured_environment(environment):
            if name != "lock":
                yield f"{node} {EG.term(ENVIRONMENT_FACTS[name])} {nt.text(value)}"
        for lock in environment.lock_files:
            lock_node = nt.below(node, "lock", lock.path)
            yield f"{node} {EG.lockFile} {lock_node}"
            yield from self.labelled(lock_node, [PROV.Entity], lock.path)
            if lock.location:
                yield f"{lock_node} {EG.location} {nt.text(lock.location)}"
            if lock.checksum:
                yield from self.checksum(lock_node, lock.checksum)

    def artifact(self, run: str, artifact: Artifact) -> Iterator[str]:
        node = nt.below(run, "artifact", artifact.path)
        types = [PROV.Entity, MLS.Model] if artifact.is_model else [PROV.Entity]
        yield f"{run} {PROV.generated} {node}"
        yield f"{node} {PROV.wasGeneratedBy} {run}"
        yield from self.labelled(node, types, artifact.path)
        if artifact.location:
            yield f"{node} {EG.location} {nt.text(artifact.location)}"
        if artifact.size is not None:
            yield f"{node} {DCAT.byteSize} {nt.integer(artifact.size)}"
        if artifact.checksum:
            yield from self.checksum(node, artifact.checksum)
