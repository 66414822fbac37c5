"""IRIs of the vocabularies expgraph speaks, as pyoxigraph terms.

Only the mapper, the store layer and the validation compiler should need these; everything else talks in records.
"""

from __future__ import annotations

from pyoxigraph import NamedNode

#: The default prefix of the IRIs minted for imported things (setting ``base_iri``); defined here only.
DEFAULT_BASE = "https://w3id.org/expgraph/id/"


class Namespace:
    """A namespace whose attributes (and items, for names that are not identifiers) are NamedNodes.

    Not a ``str`` subclass on purpose: ``DCT.title`` must be the term, not ``str.title``.
    """

    __slots__ = ("_terms", "base")

    def __init__(self, base: str) -> None:
        self.base = base
        self._terms: dict[str, NamedNode] = {}  # the mapper asks for the same few terms millions of times

    def __getattr__(self, name: str) -> NamedNode:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.term(name)

    def __getitem__(self, name: str) -> NamedNode:
        return self.term(name)

    def term(self, name: str) -> NamedNode:
        node = self._terms.get(name)
        if node is None:
            node = self._terms[name] = NamedNode(self.base + name)
        return node

    def __str__(self) -> str:
        return self.base

    def __repr__(self) -> str:
        return f"Namespace({self.base!r})"


EG = Namespace("https://w3id.org/expgraph#")
PROV = Namespace("http://www.w3.org/ns/prov#")
MLS = Namespace("http://www.w3.org/ns/mls#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
SPDX = Namespace("http://spdx.org/rdf/terms#")
SCHEMA = Namespace("https://schema.org/")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
DQV = Namespace("http://www.w3.org/ns/dqv#")
RDF = Namespace("http://www.w3.org/1999/02/22-rdf-syntax-ns#")
RDFS = Namespace("http://www.w3.org/2000/01/rdf-schema#")
OWL = Namespace("http://www.w3.org/2002/07/owl#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
SH = Namespace("http://www.w3.org/ns/shacl#")
#: Terms the store keeps about its own graphs (the registry); not part of the public ontology.
STORE = Namespace("https://w3id.org/expgraph/store#")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")

#: SKOS vocabularies shipped in ontology/vocab/: concept IRIs are ``{VOCAB}{scheme}/{notation}``.
VOCAB = "https://w3id.org/expgraph/vocab/"
RUN_STATUS = Namespace(VOCAB + "run-status/")
RESULT_KIND = Namespace(VOCAB + "result-kind/")
FAILURE_MODE = Namespace(VOCAB + "failure-mode/")
SUSPECTED_CAUSE = Namespace(VOCAB + "suspected-cause/")

#: Named graphs of the store's own furniture (ontology, vocabularies, the graph registry).
GRAPHS = "https://w3id.org/expgraph/graph/"

PREFIXES: dict[str, str] = {
    "eg": str(EG),
    "prov": str(PROV),
    "mls": str(MLS),
    "dcat": str(DCAT),
    "dct": str(DCT),
    "spdx": str(SPDX),
    "schema": str(SCHEMA),
    "skos": str(SKOS),
    "dqv": str(DQV),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "owl": str(OWL),
    "xsd": str(XSD),
    "sh": str(SH),
}


def sparql_prologue(prefixes: dict[str, str] = PREFIXES) -> str:
    """PREFIX lines for hand-written queries and the query editor."""
    return "".join(f"PREFIX {name}: <{iri}>\n" for name, iri in prefixes.items())
