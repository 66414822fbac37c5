"""The statements' terms written as N-Triples text, exactly as pyoxigraph prints them (``str(term)``).

The mapper writes text rather than pyoxigraph terms: building a ``Triple`` per statement, and the store a ``Quad``
per triple, took more than half of an import (profiled at 10k MLflow runs), while the store parses text natively.
"""

from __future__ import annotations

import re
from datetime import datetime

from pyoxigraph import Literal

from expgraph import namespaces as ns
from expgraph.lexical import double_lexical as _double_lexical
from expgraph.mapping.literals import date_time_lexical
from expgraph.mapping.minter import segment
from expgraph.records import Scalar

# The literals of ``literals`` written as N-Triples terms. Numbers, booleans and dates never need escaping; a string
# is written directly when it holds nothing pyoxigraph would escape (quotes, backslashes, control characters), else
# by pyoxigraph itself, so the text is always what ``str(Literal(...))`` gives (a test checks this).
_UNESCAPED = re.compile(r'[^\x00-\x1f"\\\x7f]*')
_DOUBLE = f'"^^<{ns.XSD.base}double>'
_INTEGER = f'"^^<{ns.XSD.base}integer>'
BOOLEAN = {True: f'"true"^^<{ns.XSD.base}boolean>', False: f'"false"^^<{ns.XSD.base}boolean>'}
_DATE_TIME = f'"^^<{ns.XSD.base}dateTime>'


def text(value: str) -> str:
    if value.isascii() and _UNESCAPED.fullmatch(value):
        return f'"{value}"'
    return str(Literal(value))


def double(value: float) -> str:
    return f'"{_double_lexical(value)}{_DOUBLE}'


def integer(value: int) -> str:
    return f'"{int(value)}{_INTEGER}'


def date_time(value: datetime) -> str:
    return f'"{date_time_lexical(value)}{_DATE_TIME}'


def scalar(value: Scalar) -> str:
    if isinstance(value, bool):
        return BOOLEAN[value]
    if isinstance(value, int):
        return integer(value)
    if isinstance(value, float):
        return double(value)
    return text(str(value))


class Terms:
    """A namespace's terms as N-Triples text (``<iri>``); each is looked up once, then read as a plain attribute."""

    def __init__(self, namespace: ns.Namespace) -> None:
        self.namespace = namespace

    def __getattr__(self, name: str) -> str:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.term(name)

    def term(self, name: str) -> str:
        written = self.__dict__.get(name)
        if written is None:
            written = self.__dict__[name] = str(self.namespace.term(name))
        return written


DCAT, DCT, EG, MLS, PROV = Terms(ns.DCAT), Terms(ns.DCT), Terms(ns.EG), Terms(ns.MLS), Terms(ns.PROV)
RDF, RDFS, SCHEMA, SKOS, SPDX = Terms(ns.RDF), Terms(ns.RDFS), Terms(ns.SCHEMA), Terms(ns.SKOS), Terms(ns.SPDX)
RUN_STATUS = Terms(ns.RUN_STATUS)


def below(node: str, *parts: str) -> str:
    """The node under ``node`` (an IRI written ``<...>``) at one percent-encoded path segment per part."""
    return f"{node[:-1]}/{'/'.join(segment(part) for part in parts)}>"
