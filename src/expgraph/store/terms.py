"""The store's own terms and graphs, its errors, and the one escaping function for terms in SPARQL text.

Apart from :mod:`expgraph.store.base` so that the store's helpers (:mod:`expgraph.store.versions`) use them too;
``base`` exports them all.
"""

from __future__ import annotations

import re

from pyoxigraph import BlankNode, Literal, NamedNode, QueryBoolean, QuerySolutions, QueryTriples

from expgraph.namespaces import GRAPHS, STORE
from expgraph.sparql.lexer import keep_backslash_u

__all__ = ["AUDIT", "REGISTRY", "STORE", "QueryResult", "StoreBusyError", "StoreError", "Term", "sparql_term"]

REGISTRY = NamedNode(GRAPHS + "registry")
#: The audit trail of imports, appended to (never replaced) in the same transaction as each swap.
AUDIT = NamedNode(GRAPHS + "imports")

QueryResult = QuerySolutions | QueryBoolean | QueryTriples
Term = NamedNode | BlankNode | Literal

_SAFE_IRI = re.compile(r'^[^\s<>"{}|\\^`]+$')


class StoreError(Exception):
    """A store problem worth one clear line to the user."""


class StoreBusyError(StoreError):
    """Another process holds the on-disk store for writing."""


def sparql_term(term: Term) -> str:
    """A term in SPARQL syntax. pyoxigraph's N-Triples form escapes quotes, newlines and IRIs safely; a backslash
    before ``u`` in a literal is kept from reading as a codepoint escape (see :func:`keep_backslash_u`)."""
    if isinstance(term, NamedNode) and not _SAFE_IRI.match(term.value):
        raise StoreError(f"not a valid IRI: {term.value!r}")
    text = str(term)
    if isinstance(term, Literal) and "\\" in term.value:
        end = text.rindex('"')
        text = text[0] + keep_backslash_u(text[1:end]) + text[end:]
    return text
