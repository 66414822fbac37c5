"""What every part of the mapping shares: one import source's minter, the nodes already written, and the small
statements (a typed and labelled node, a checksum, a hypothesis) that several record kinds make."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from expgraph import namespaces as ns
from expgraph.mapping import ntriples as nt
from expgraph.mapping.minter import Minter, checksum_value, concept, segment
from expgraph.mapping.ntriples import EG, RDF, RDFS, SPDX
from expgraph.records import (
    Checksum,
    Concept,
    Hypothesis,
    Liveness,
)

_SPDX_ALGORITHMS = {"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256", "blake2b256"}


class Emitter:
    """Yields the statements of one import source; one small method per record type (runs: ``runs``; projects,
    experiments, results and the whole source: ``statements``).

    Nodes are IRIs already written as N-Triples (``<...>``), minted through :class:`Minter` (which checks them).
    """

    def __init__(self, minter: Minter, concepts: Iterable[Concept] = (), liveness: Liveness | None = None) -> None:
        self.mint = minter
        self.liveness = liveness
        self.tracker = nt.text(minter.tracker)
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

    def labelled(self, node: str, types: Iterable[str], label: str | None) -> Iterator[str]:
        for rdf_type in types:
            yield f"{node} {RDF.type} {rdf_type}"
        if label:
            yield f"{node} {RDFS.label} {nt.text(label)}"

    def texts(self, node: str, pairs: Iterable[tuple[str, str | None]]) -> Iterator[str]:
        """The free texts a record may carry (description, error, method...): each stated only when given."""
        for predicate, value in pairs:
            if value:
                yield f"{node} {predicate} {nt.text(value)}"

    def hypothesis(self, node: str, link: str, hypothesis: Hypothesis | None) -> Iterator[str]:
        """The hypothesis an experiment states or a result tests, a node below ``node`` linked by ``link``."""
        if hypothesis is None:
            return
        below = nt.below(node, "hypothesis")
        yield f"{node} {link} {below}"
        yield from self.labelled(below, [EG.Hypothesis], hypothesis.text)
        if hypothesis.expected_outcome:
            yield f"{below} {EG.expectedOutcome} {nt.text(hypothesis.expected_outcome)}"

    def checksum(self, node: str, checksum: Checksum) -> Iterator[str]:
        algorithm = checksum.algorithm.lower().replace("-", "")
        checksum_node = nt.below(node, "checksum", algorithm)
        yield f"{node} {SPDX.checksum} {checksum_node}"
        yield f"{checksum_node} {RDF.type} {SPDX.Checksum}"
        if algorithm in _SPDX_ALGORITHMS:
            yield f"{checksum_node} {SPDX.algorithm} {SPDX.term(f'checksumAlgorithm_{algorithm}')}"
        yield f"{checksum_node} {SPDX.checksumValue} {nt.text(checksum_value(checksum))}"
