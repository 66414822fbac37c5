"""Every IRI the mapper writes, deterministic from (tracker, source identity, native id): a re-import produces the
same nodes and replaces the previous version. Things that are the same across trackers (projects, agents,
parameters, measures, dataset checksums, commits, environments, configurations) get source-independent IRIs so that
cross-project queries meet on them (docs/architecture.md, "IRIs")."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import quote

from pyoxigraph import NamedNode

from expgraph import namespaces as ns
from expgraph.namespaces import DEFAULT_BASE
from expgraph.records import (
    Checksum,
    DatasetSnapshot,
    Environment,
)

_HEX = re.compile(r"[0-9A-Fa-f]+")


def segment(text: str) -> str:
    """One percent-encoded IRI path segment for any unicode id (``/`` included)."""
    return quote(text, safe="")


def source_key(tracker: str, source: str) -> str:
    """A short stable key for an import source (tracker plus its identity: absolute path or URI)."""
    return hashlib.sha256(f"{tracker}\n{source}".encode()).hexdigest()[:16]


def source_graph(tracker: str, source: str, base: str = DEFAULT_BASE) -> NamedNode:
    """The named graph an import source lives in."""
    return NamedNode(f"{base}graph/{segment(tracker)}/{source_key(tracker, source)}")




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



def environment_digest(environment: Environment) -> str:
    parts = [
        environment.python_version or "",
        *sorted(environment.packages),
        environment.container_image or "",
        environment.hostname or "",
        environment.operating_system or "",
    ]
    # what captures add is digested only when present, so the environments importers describe keep their IRIs
    parts += [f"{name}={value}" for name, value in captured_environment(environment)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


ENVIRONMENT_FACTS = {"executable": "pythonExecutable", "cpu": "cpu", "gpu": "gpu"}


def captured_environment(environment: Environment) -> list[tuple[str, str]]:
    facts = [("executable", environment.executable), ("cpu", environment.cpu), ("gpu", environment.gpu)]
    facts += [("lock", f"{lock.path} {checksum_value(lock.checksum)}") for lock in environment.lock_files
              if lock.checksum]
    return [(name, value) for name, value in facts if value]
