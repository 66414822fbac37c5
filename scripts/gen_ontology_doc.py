"""Generate docs/ontology.md, the reference of the expgraph ontology and vocabularies, from the Turtle files.

Usage::

    python scripts/gen_ontology_doc.py            # rewrite docs/ontology.md
    python scripts/gen_ontology_doc.py --check    # exit 1 if docs/ontology.md is out of date

The order of terms follows the topic headers of ontology/expgraph.ttl (a line ``#    Heading`` inside a
``####`` banner), so the reference reads like the file.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from rdflib import OWL, RDF, RDFS, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, SKOS

ROOT = Path(__file__).resolve().parents[1]
EG = Namespace("https://w3id.org/expgraph#")
ONTOLOGY_IRI = URIRef("https://w3id.org/expgraph")
VOCAB_BASE = "https://w3id.org/expgraph/vocab/"
SCHEMES = ("run-status", "result-kind", "failure-mode", "suspected-cause")

PREFIXES = {
    "eg": "https://w3id.org/expgraph#",
    "prov": "http://www.w3.org/ns/prov#",
    "mls": "http://www.w3.org/ns/mls#",
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "spdx": "http://spdx.org/rdf/terms#",
    "schema": "https://schema.org/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dqv": "http://www.w3.org/ns/dqv#",
    "obo": "http://purl.obolibrary.org/obo/",
    "owl": "http://www.w3.org/2002/07/owl#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}

KINDS = {
    OWL.Class: "class",
    OWL.ObjectProperty: "object property",
    OWL.DatatypeProperty: "datatype property",
    OWL.AnnotationProperty: "annotation property",
}

EXTENSION_EXAMPLE = """\
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix eg:   <https://w3id.org/expgraph#> .
@prefix ex:   <https://example.org/our-lab/vocab/> .

ex:dataloader-worker-crash a skos:Concept ;
    skos:inScheme ex:failure-mode ;
    skos:broader <https://w3id.org/expgraph/vocab/failure-mode/crash> ;
    skos:notation "dataloader-worker-crash" ;
    skos:prefLabel "dataloader worker crash"@en ;
    skos:definition "A DataLoader worker process exited unexpectedly."@en ;
    eg:errorPattern "DataLoader worker \\\\(pid" ;   # Python regex, case-insensitive
    eg:rulePriority 5 .                              # tried before out-of-memory (10)
"""


def curie(term: object) -> str:
    """A prefixed name for an IRI we have a prefix for, else the IRI in angle brackets."""
    text = str(term)
    for prefix, namespace in PREFIXES.items():
        if text.startswith(namespace) and re.fullmatch(r"[A-Za-z_][\w.-]*", text[len(namespace) :]):
            return f"{prefix}:{text[len(namespace) :]}"
    return f"<{text}>"


def english(graph: Graph, subject: URIRef, predicate: URIRef) -> str:
    """The English (or untagged) value of an annotation, on one line."""
    values = sorted(
        str(o) for o in graph.objects(subject, predicate) if isinstance(o, Literal) and o.language in (None, "en")
    )
    return " ".join(" ".join(values).split())


def load(path: Path) -> Graph:
    graph = Graph()
    graph.parse(path, format="turtle")
    return graph


def topic_sections(turtle: str) -> list[tuple[str, list[str]]]:
    """(heading, [local names]) in file order, from the banner comments of expgraph.ttl."""
    sections: list[tuple[str, list[str]]] = []
    lines = turtle.splitlines()
    for number, line in enumerate(lines):
        heading = re.fullmatch(r"#\s{2,}(\S.*)", line)
        if heading and number > 0 and lines[number - 1].startswith("####"):
            sections.append((heading.group(1).strip(), []))
            continue
        term = re.fullmatch(r"eg:([A-Za-z_]\w*)\s*", line)
        if term and sections:
            sections[-1][1].append(term.group(1))
    return [(title, names) for title, names in sections if names]


def term_block(graph: Graph, term: URIRef) -> list[str]:
    kinds = sorted(KINDS.get(t, curie(t)) for t in graph.objects(term, RDF.type))
    out = [f"#### `{curie(term)}`", "", f"**{english(graph, term, RDFS.label)}** ({', '.join(kinds)})", ""]
    out += [english(graph, term, RDFS.comment), ""]
    facts = [
        ("Subclass of", RDFS.subClassOf),
        ("Subproperty of", RDFS.subPropertyOf),
        ("Domain", RDFS.domain),
        ("Range", RDFS.range),
        ("Close match", SKOS.closeMatch),
        ("In dimension", URIRef("http://www.w3.org/ns/dqv#inDimension")),
        ("In category", URIRef("http://www.w3.org/ns/dqv#inCategory")),
        ("Expected datatype", URIRef("http://www.w3.org/ns/dqv#expectedDataType")),
    ]
    bullets = []
    for label, predicate in facts:
        values = sorted(curie(o) for o in graph.objects(term, predicate))
        if values:
            bullets.append(f"- {label}: " + ", ".join(f"`{v}`" for v in values))
    return out + bullets + ([""] if bullets else [])


def render_ontology(root: Path) -> list[str]:
    path = root / "ontology" / "expgraph.ttl"
    graph = load(path)
    out = [
        "## Ontology",
        "",
        f"- IRI: `{ONTOLOGY_IRI}` (prefix `eg:` = `{EG}`)",
        f"- Version: {graph.value(ONTOLOGY_IRI, OWL.versionInfo)}",
        f"- License: <{graph.value(ONTOLOGY_IRI, DCTERMS.license)}>",
        f"- Created: {graph.value(ONTOLOGY_IRI, DCTERMS.created)}",
        "",
        english(graph, ONTOLOGY_IRI, DCTERMS.description),
        "",
    ]
    listed: set[URIRef] = set()
    for title, names in topic_sections(path.read_text(encoding="utf-8")):
        out += [f"### {title}", ""]
        for name in names:
            listed.add(EG[name])
            out += term_block(graph, EG[name])
    missing = sorted(str(s) for s in set(graph.subjects()) if str(s).startswith(str(EG)) and s not in listed)
    if missing:
        raise SystemExit(f"terms outside a topic section of expgraph.ttl: {', '.join(missing)}")
    return out


def render_alignment(root: Path) -> list[str]:
    graph = load(root / "ontology" / "alignment.ttl")
    out = [
        "## Alignment with outside vocabularies",
        "",
        "Axioms of `ontology/alignment.ttl` that relate the standards as expgraph uses them (the file also",
        "declares, with a label, every outside term we use, so that a reasoner needs nothing else):",
        "",
    ]
    axioms = []
    for predicate in (RDFS.subClassOf, RDFS.subPropertyOf, OWL.inverseOf, OWL.disjointWith):
        for s, o in graph.subject_objects(predicate):
            axioms.append(f"- `{curie(s)} {curie(predicate)} {curie(o)}`")
    return [*out, *sorted(axioms), ""]


def concept_line(graph: Graph, concept: URIRef, depth: int) -> str:
    notation = graph.value(concept, SKOS.notation)
    label = english(graph, concept, SKOS.prefLabel)
    definition = english(graph, concept, SKOS.definition)
    return f"{'  ' * depth}- `{notation}` **{label}**: {definition}"


def render_scheme(root: Path, name: str) -> list[str]:
    graph = load(root / "ontology" / "vocab" / f"{name}.ttl")
    scheme = URIRef(VOCAB_BASE + name)
    concepts = set(graph.subjects(SKOS.inScheme, scheme))
    out = [
        f"### {english(graph, scheme, SKOS.prefLabel)} (`{name}`, {len(concepts)} concepts)",
        "",
        f"Scheme `{scheme}`; concepts `{scheme}/{{notation}}`.",
        "",
        english(graph, scheme, DCTERMS.description),
        "",
    ]

    def walk(concept: URIRef, depth: int) -> None:
        out.append(concept_line(graph, concept, depth))
        children = sorted(graph.subjects(SKOS.broader, concept), key=lambda c: str(graph.value(c, SKOS.notation)))
        for child in children:
            walk(child, depth + 1)

    tops = sorted(graph.objects(scheme, SKOS.hasTopConcept), key=lambda c: str(graph.value(c, SKOS.notation)))
    for top in tops:
        walk(top, 0)
    out.append("")

    rules = []
    for concept in concepts:
        patterns = sorted(str(p) for p in graph.objects(concept, EG.errorPattern))
        if patterns:
            priority = int(graph.value(concept, EG.rulePriority))
            rules.append((priority, str(graph.value(concept, SKOS.notation)), patterns))
    if rules:
        out += [
            "Classification rules (tried in priority order, lower first; Python regular expressions matched",
            "case-insensitively anywhere in the error text; the first concept with a matching pattern wins):",
            "",
        ]
        for priority, notation, patterns in sorted(rules):
            out.append(f"- {priority} `{notation}`: " + ", ".join(f"`` {p} ``" for p in patterns))
        out.append("")
    return out


def render(root: Path = ROOT) -> str:
    """The whole of docs/ontology.md."""
    out = [
        "# expgraph ontology and vocabularies",
        "",
        "<!-- Generated by scripts/gen_ontology_doc.py from ontology/*.ttl: do not edit by hand. -->",
        "",
        "The files: `ontology/expgraph.ttl` (our terms), `ontology/alignment.ttl` (axioms about outside terms),",
        "`ontology/vocab/*.ttl` (SKOS concept schemes). Prefixes used below:",
        "",
    ]
    out += [f"- `{prefix}:` `{namespace}`" for prefix, namespace in PREFIXES.items()]
    out.append("")
    out += render_ontology(root)
    out += render_alignment(root)
    out += [
        "## Vocabularies",
        "",
        "Concept IRIs are fixed: `https://w3id.org/expgraph/vocab/{scheme}/{notation}`. A notation is never",
        "renamed; a concept no longer wanted is deprecated and kept.",
        "",
        "### Adding your own concepts",
        "",
        "A project keeps its concepts in its own namespace, says which of ours each one refines with",
        "`skos:broader`, and loads the file with `expgraph load`. Queries that roll up with `skos:broader*` then",
        "count the project concept under ours, across projects. A failure-mode concept can carry its own",
        "`eg:errorPattern` rules; all loaded rules are tried in `eg:rulePriority` order (lower first) against",
        "the error text of a failed run, and the first concept with a matching pattern wins:",
        "",
        "```turtle",
        *EXTENSION_EXAMPLE.rstrip("\n").splitlines(),
        "```",
        "",
    ]
    for name in SCHEMES:
        out += render_scheme(root, name)
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "ontology.md")
    args = parser.parse_args(argv)
    text = render(ROOT)
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run python scripts/gen_ontology_doc.py", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
