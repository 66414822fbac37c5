"""A query text with named slots, filled with RDF terms only: the one way outside values become SPARQL text.

A slot is a comment of its own, ``#@NAME`` (or ``#@values NAME``, the saved queries' spelling for a pairs
parameter's rows). Slots are found by lexing the query, so a marker inside a string literal or an IRI is text, not a
slot, and a value put into one slot is never searched for another. :meth:`SparqlTemplate.bind` fills each slot with
a ``VALUES`` block whose every term is written by :func:`~expgraph.store.base.sparql_term` (pyoxigraph's N-Triples
form, which escapes), so a hostile value can only ever be a term: it cannot change the query's structure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from expgraph.sparql.lexer import tokens, unescape_codepoints
from expgraph.store.base import Term, sparql_term

_SLOT = re.compile(r"^#@(?:values\s+)?([A-Za-z_][A-Za-z0-9_]*)$")

#: A ``VALUES`` block: its variable names (without ``?``) and rows of terms (None for ``UNDEF``).
Values = tuple[Sequence[str], Sequence[Sequence[Term | None]]]


class TemplateError(ValueError):
    """A slot that does not exist, or a block whose rows do not fit its variables."""


@dataclass(frozen=True)
class SparqlTemplate:
    """Query text and where its slots are, by name (a slot may appear more than once)."""

    text: str
    slots: dict[str, tuple[tuple[int, int], ...]]

    @classmethod
    def parse(cls, text: str) -> SparqlTemplate:
        """Find the slots of a query text (codepoint escapes are replaced first, as SPARQL does)."""
        text = unescape_codepoints(text)
        found: dict[str, list[tuple[int, int]]] = {}
        for token in tokens(text):
            match = _SLOT.match(token.text.strip()) if token.kind == "comment" else None
            if match:
                found.setdefault(match[1], []).append((token.offset, token.offset + len(token.text)))
        return cls(text, {name: tuple(spans) for name, spans in found.items()})

    def bind(self, **blocks: Values) -> str:
        """The text with each named slot replaced by its ``VALUES`` block; slots not named stay comments."""
        unknown = sorted(set(blocks) - set(self.slots))
        if unknown:
            raise TemplateError(f"the query has no slot #@{unknown[0]}")
        edits = sorted((span, values_block(*blocks[name])) for name in blocks for span in self.slots[name])
        out, position = [], 0
        for (start, end), block in edits:
            out += [self.text[position:start], block]
            position = end
        return "".join(out) + self.text[position:]


def values_block(variables: Sequence[str], rows: Sequence[Sequence[Term | None]]) -> str:
    """``VALUES (?a ?b) { (t1 t2) ... }`` with every term written by the one escaping function."""
    for name in variables:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise TemplateError(f"not a variable name: {name!r}")
    lines = []
    for row in rows:
        if len(row) != len(variables):
            raise TemplateError(f"a row of {len(row)} terms for {len(variables)} variables")
        lines.append("(" + " ".join("UNDEF" if term is None else sparql_term(term) for term in row) + ")")
    return f"VALUES ({' '.join('?' + name for name in variables)}) {{ {' '.join(lines)} }}"
