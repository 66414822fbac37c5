"""RDF terms as page values (numbers, strings, ``{"iri", "label"}`` links) and user values as terms.

Every page is a plain dict rendered as HTML or returned as JSON: these turn the terms a query gives into values
both renderings can use, and turn a request's IRI into a term, or a :class:`BadRequest`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from pyoxigraph import Literal, NamedNode

from expgraph.namespaces import XSD
from expgraph.store.base import Term, sparql_term

_NUMERIC = {XSD.double.value, XSD.integer.value, XSD.float.value, XSD.decimal.value}


class BadRequest(ValueError):
    """A request parameter the page cannot use; shown to the user as a 400."""


def plain(term: Term | None) -> Any:
    """A JSON-ready value: IRIs as strings, numbers as numbers (NaN and infinities as their XSD spelling)."""
    if term is None:
        return None
    if isinstance(term, Literal):
        if term.datatype.value in _NUMERIC:
            try:
                number = float(term.value) if term.datatype != XSD.integer else int(term.value)
            except ValueError:
                return term.value
            return number if not (isinstance(number, float) and not math.isfinite(number)) else term.value
        if term.datatype == XSD.boolean:
            return term.value == "true"
        return term.value
    return term.value


def node(row: Mapping[str, Term], var: str, label_var: str | None = None) -> dict[str, Any] | None:
    """``{"iri", "label"}`` for a row's IRI variable, the label falling back to the IRI's last segment."""
    term = row.get(var)
    if term is None:
        return None
    label = row.get(label_var or f"{var}Label")
    return {"iri": term.value, "label": label.value if label is not None else short(term.value)}


def short(iri: str) -> str:
    tail = iri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
    return unquote(tail) or iri


def iri_term(value: str, what: str = "IRI") -> NamedNode:
    """A user-given IRI as a term; anything that is not a plain absolute IRI is a bad request."""
    if not value.startswith(("http://", "https://", "urn:")):
        raise BadRequest(f"{what} must be an absolute http(s) or urn IRI, got {value[:80]!r}")
    try:
        term = NamedNode(value)
        sparql_term(term)
    except Exception:
        raise BadRequest(f"{what} is not a valid IRI: {value[:80]!r}") from None
    return term
