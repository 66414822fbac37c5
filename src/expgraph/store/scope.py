"""Which graphs a query reads, and under what names: the one place a query is scoped.

Every read of the catalog goes through :meth:`Store.query <expgraph.store.base.Store.query>`, which resolves the
graphs a caller names (logical names or active versions) against the graphs its :class:`GraphScope` lets it see.
Today every caller sees every active graph (:data:`EVERYTHING`); access control (private projects) will hand out
narrower scopes, and nothing else has to change for a hidden graph to disappear from pages, saved queries and
``/sparql`` alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin

from pyoxigraph import NamedNode

from expgraph.sparql.lexer import LexError, original_offsets, tokens, unescape_codepoints


@dataclass(frozen=True)
class GraphInfo:
    """One logical graph as the registry knows it."""

    name: NamedNode
    version: NamedNode
    digest: str
    triples: int
    modified: str
    #: What the content was made from (an import's source fingerprint), when the writer said: see
    #: :meth:`Store.replace_statements`.
    source_digest: str | None = None


@dataclass(frozen=True)
class GraphScope:
    """The logical graphs a caller may read: all active graphs but ``hidden`` ones. Frozen and picklable, so that it
    travels with a query to a worker process and is part of a cached answer's key."""

    hidden: frozenset[str] = frozenset()

    @property
    def unrestricted(self) -> bool:
        return not self.hidden

    def visible(self, active: Mapping[str, GraphInfo]) -> dict[str, GraphInfo]:
        """The entries of ``active`` (the registry, by logical name) this scope may read."""
        return {name: info for name, info in active.items() if name not in self.hidden}

    def hiding(self, names: Iterable[str]) -> GraphScope:
        """This scope with more graphs hidden."""
        return GraphScope(self.hidden | frozenset(names))


#: The scope of a caller who may read the whole catalog (every caller, until access control exists).
EVERYTHING = GraphScope()


def physical_graphs(names: Iterable[NamedNode], visible: Mapping[str, GraphInfo], *,
                    restricted: bool) -> list[NamedNode]:
    """The physical graphs to query for ``names``: a logical name becomes its active version, an active version
    stays itself. Other IRIs pass through unchanged for a caller who may read everything (they name no active
    graph, so they add nothing), and are left out for a restricted one (they might name a hidden version)."""
    by_name = {name: info.version for name, info in visible.items()}
    by_name.update({info.version.value: info.version for info in visible.values()})
    out = []
    for graph in names:
        if graph.value in by_name:
            out.append(by_name[graph.value])
        elif not restricted:
            out.append(graph)
    return out


def logical_to_versions(sparql: str, versions: Mapping[str, NamedNode]) -> str:
    """Query text with IRIs (written ``<...>`` or as prefixed names) that are keys of ``versions`` replaced by their
    values. Text that does not lex is returned as it is, for the engine to report."""
    try:
        found = list(tokens(unescape_codepoints(sparql)))
    except LexError:
        return sparql
    to_original = original_offsets(sparql)  # edits go into the text as given, its escapes (in strings) kept
    prefixes: dict[str, str] = {}
    base = ""  # relative IRIs are resolved against the query's BASE, as the engine resolves them
    edits = []
    for position, token in enumerate(found):
        if token.kind == "pname" and position >= 1 and found[position - 1].text.upper() == "PREFIX":
            following = found[position + 1] if position + 1 < len(found) else None
            if following is not None and following.kind == "iri":
                prefixes[token.text[:-1]] = urljoin(base, following.text[1:-1])
            continue
        if token.kind == "iri" and position >= 1 and found[position - 1].text.upper() == "BASE":
            base = urljoin(base, token.text[1:-1])
            continue
        iri = None
        if token.kind == "iri":
            iri = urljoin(base, token.text[1:-1])
        elif token.kind == "pname" and token.text.split(":", 1)[0] in prefixes:
            prefix, local = token.text.split(":", 1)
            iri = prefixes[prefix] + re.sub(r"\\(.)", r"\1", local)
        if iri in versions:
            # a version's IRI is the store's own, made from a name that was checked when it was registered
            edits.append((to_original(token.offset), to_original(token.offset + len(token.text)), str(versions[iri])))
    out, at = [], 0
    for start, end, replacement in edits:
        out += [sparql[at:start], replacement]
        at = end
    return "".join(out) + sparql[at:]
