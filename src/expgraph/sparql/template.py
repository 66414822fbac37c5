"""A query text with named slots, filled with RDF terms only: the one way outside values become SPARQL text.

A slot is a comment of its own, ``#@NAME`` (or ``#@values NAME``, the saved queries' spelling for a pairs
parameter's rows). Slots are found by lexing the query, so a marker inside a string literal or an IRI is text, not a
slot, and a value put into one slot is never searched for another. :meth:`SparqlTemplate.bind` fills each slot by
the kind of value given for it, every term written by :func:`~expgraph.store.base.sparql_term` (pyoxigraph's
N-Triples form, which escapes), so a hostile value can only ever be a term: it cannot change the query's structure.

The kinds of value a slot takes:

- ``(variables, rows)`` (:data:`Values`): a ``VALUES`` block;
- one term (``NamedNode``, ``Literal``, ``BlankNode``): the term itself, e.g. a predicate;
- :class:`TermList`: the terms separated by commas, for ``IN (...)``;
- an ``int``: a number, for ``LIMIT``;
- another :class:`SparqlTemplate`: a trusted fragment (a constant of the code, never a value), whose own slots are
  bound from the same arguments;
- ``None``: the slot stays a comment (an optional fragment left out).

Since a slot is a comment, it runs to the end of its line: a template has a line break after each slot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pyoxigraph import BlankNode, Literal, NamedNode

from expgraph.sparql.lexer import tokens, unescape_codepoints
from expgraph.store.base import Term, sparql_term

_SLOT = re.compile(r"^#@(?:values\s+)?([A-Za-z_][A-Za-z0-9_]*)$")

#: A ``VALUES`` block: its variable names (without ``?``) and rows of terms (None for ``UNDEF``).
Values = tuple[Sequence[str], Sequence[Sequence[Term | None]]]


class TemplateError(ValueError):
    """A slot that does not exist, a block whose rows do not fit its variables, or a value of no slot kind."""


@dataclass(frozen=True)
class TermList:
    """Terms for an ``IN (...)`` list: written separated by commas."""

    terms: tuple[Term, ...]

    @classmethod
    def of(cls, terms: Iterable[Term]) -> TermList:
        return cls(tuple(terms))


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

    def names(self, values: dict[str, Slot]) -> set[str]:
        """Every slot name this template answers to with these values: its own and those of the fragments."""
        names = set(self.slots)
        for name in self.slots:
            fragment = values.get(name)
            if isinstance(fragment, SparqlTemplate):
                names |= fragment.names(values)
        return names

    def fill(self, **values: Slot) -> SparqlTemplate:
        """A template with some slots filled by constants of the code now and the others left for :meth:`bind`
        (the terms written are not lexed or unescaped again: the other slots' places are moved by the edits)."""
        text, moved = self._edit(values)
        return SparqlTemplate(text, {name: tuple(moved[span] for span in spans)
                                     for name, spans in self.slots.items() if values.get(name) is None})

    def bind(self, **values: Slot) -> str:
        """The text with each named slot filled; slots not named (or named with None) stay comments."""
        return self._edit(values)[0]

    def _edit(self, values: dict[str, Slot]) -> tuple[str, dict[tuple[int, int], tuple[int, int]]]:
        """The text with the named slots filled, and where each slot left as it was now sits."""
        unknown = sorted(set(values) - self.names(values))
        if unknown:
            raise TemplateError(f"the query has no slot #@{unknown[0]}")
        filled = {name: _fill(value, values) for name, value in values.items()
                  if name in self.slots and value is not None}  # once per slot, however often it appears
        spans = sorted((span, filled.get(name)) for name, spans in self.slots.items() for span in spans)
        out, position, length, moved = [], 0, 0, {}
        for (start, end), text in spans:
            out.append(self.text[position:start])
            length += start - position
            if text is None:  # left as it was
                text = self.text[start:end]
                moved[start, end] = (length, length + len(text))
            out.append(text)
            length += len(text)
            position = end
        return "".join(out) + self.text[position:], moved


#: What a slot can be filled with (see the module's docstring).
Slot = Values | Term | TermList | int | SparqlTemplate | None


def _fill(value: Slot, values: dict[str, Slot]) -> str:
    """One slot's text for its value, by the value's kind."""
    if isinstance(value, SparqlTemplate):
        return value.bind(**{name: slot for name, slot in values.items() if name in value.names(values)})
    if isinstance(value, NamedNode | Literal | BlankNode):
        return sparql_term(value)
    if isinstance(value, TermList):
        return ", ".join(sparql_term(term) for term in value.terms)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, tuple) and len(value) == 2:
        return values_block(*value)
    raise TemplateError(f"a slot cannot hold {type(value).__name__} {value!r:.80}")


def values(variable: str, terms: Term | Iterable[Term]) -> Values:
    """A one-variable ``VALUES`` block's parts: the variable bound to one term or each of several."""
    options = [terms] if isinstance(terms, NamedNode | Literal | BlankNode) else list(terms)
    return [variable], [[term] for term in options]


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
