"""How values are spelled: the XSD forms the mapper writes, and the forms the store gives back.

pyoxigraph keeps a number as a number and prints it canonically, so the text a tracker wrote ("0.0", "1e-05",
"True") may not be what the catalog's literal reads as. The mapper keeps that text as ``eg:originalValue`` exactly
when the two differ: :func:`original_value`.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from expgraph.records import Scalar

_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)")


def typed_text(text: str) -> Scalar:
    """A tracker's text typed where the type is certain, the one rule for parameters on import and for values a
    saved query is given to compare with them: ``"128"`` is 128, ``"5e-4"`` 0.0005, ``"True"`` True; ``"nan"``,
    ``"1_000"`` or ``"007"`` stay text (returned as the same object)."""
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if text in ("True", "False", "true", "false"):
        return text.lower() == "true"
    return text


def double_lexical(value: float) -> str:
    """XML Schema spells NaN and the infinities NaN, INF, -INF."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    return repr(float(value))


def stored_text(value: Scalar) -> str:
    """The lexical form the store gives back for ``scalar(value)``. pyoxigraph keeps a number as a number and prints
    it canonically (``"0.0"^^xsd:double`` comes back ``"0"``, ``1e-05`` as ``"0.00001"``, ``"007"^^xsd:integer`` as
    ``"7"``), so a text is only recoverable from the literal when this equals it (a test checks this against the
    store for thousands of doubles)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return double_lexical(value)
        written = repr(value)  # the shortest digits that read back as the value, as the store prints them
        if len(written) >= 17 and (rounded := _rounded_away(value, written)) is not None:  # 16+ digits: a tie?
            return rounded
        if "e" in written:
            return format(Decimal(written).normalize(), "f")  # positional, no exponent: 1e-05 -> 0.00001
        return written.removesuffix(".0")
    return str(value)


def _rounded_away(value: float, written: str) -> str | None:
    """Where the value lies exactly half-way between two shortest spellings that both read back as it, the store
    writes the one further from zero, Python the even one (3315417811956.15625 is ...1563 to the store, ...1562 to
    Python); None when that is not the case. Only a value with at most 18 exact digits can lie half-way, which
    rules out nearly every double cheaply."""
    exact = Decimal(value)
    if len(exact.as_tuple().digits) > 18:
        return None
    digits = Decimal(written)
    if exact == digits:
        return None
    unit = Decimal(1).scaleb(digits.as_tuple().exponent)  # one in the last place written
    other = digits + unit if exact > digits else digits - unit
    if abs(exact - digits) == abs(exact - other) and abs(other) > abs(digits) and float(other) == value:
        return format(other.normalize(), "f")
    return None


def given_text(value: Scalar, original: str | None) -> str | None:
    """The tracker's own text of a value: what it wrote (``original``), else for a float the shortest text that
    reads back as it (what a JSON or YAML writer and MLflow's metric files print); None when there is no text to
    keep (strings, integers and booleans the tracker gave typed)."""
    if original is not None:
        return original
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return None


def original_value(value: Scalar, original: str | None = None) -> str | None:
    """The text to keep as ``eg:originalValue``: the tracker's own, when the store would give back another."""
    given = given_text(value, original)
    return given if given is not None and given != stored_text(value) else None
