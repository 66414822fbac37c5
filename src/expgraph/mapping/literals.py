"""Typed literals as pyoxigraph terms: values are typed (``xsd:double`` with NaN and infinities, ``xsd:integer``,
``xsd:boolean``, ``xsd:dateTime`` in UTC), the same everywhere a record's value becomes RDF."""

from __future__ import annotations

from datetime import UTC, datetime

from pyoxigraph import Literal

from expgraph import namespaces as ns
from expgraph.lexical import double_lexical as _double_lexical
from expgraph.records import Scalar


def date_time_lexical(value: datetime) -> str:
    """UTC; naive datetimes are taken to be UTC already."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat().replace("+00:00", "Z")


def double(value: float) -> Literal:
    """``xsd:double`` keeping NaN and infinities."""
    return Literal(_double_lexical(value), datatype=ns.XSD.double)


def integer(value: int) -> Literal:
    return Literal(str(int(value)), datatype=ns.XSD.integer)


def boolean(value: bool) -> Literal:
    return Literal("true" if value else "false", datatype=ns.XSD.boolean)


def date_time(value: datetime) -> Literal:
    """``xsd:dateTime`` in UTC; naive datetimes are taken to be UTC already."""
    return Literal(date_time_lexical(value), datatype=ns.XSD.dateTime)


def text(value: str) -> Literal:
    return Literal(value)


def scalar(value: Scalar) -> Literal:
    """The typed literal for a parameter value (bool before int: ``True`` is an ``int`` in Python)."""
    if isinstance(value, bool):
        return boolean(value)
    if isinstance(value, int):
        return integer(value)
    if isinstance(value, float):
        return double(value)
    return text(str(value))
