"""Value columns and value filters of the run list, as the URL spells them: ``col=metric:val_loss``,
``where=val_loss < 0.3``, ``where=lr in [1e-4, 1e-3]``, ``where=optimizer = adam``.

Parsed here into plain values and applied in Python to the list's in-memory value tables
(:mod:`expgraph.web.list_values`), so a user's text never becomes query text. A filter that does not parse is a
:class:`FilterError` naming the filter and what is wrong, shown on the list page (a 400, never a 500).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from expgraph.web.terms import BadRequest

KINDS = ("metric", "param")
MAX_FILTERS = 10
MAX_FILTER_LENGTH = 300

#: A cell of a value column: a number (int or float, NaN and infinities included) or a text.
Value = int | float | str

_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)", re.IGNORECASE)
_OPERATORS = ("<=", ">=", "!=", "==", "<", ">", "=")
_BARE = r'[^\s<>=!"]+'
_NAME = re.compile(rf'"(?P<quoted>[^"]+)"|(?P<bare>{_BARE})')


class FilterError(BadRequest):
    """A filter or column the list cannot use (the message names it)."""


@dataclass(frozen=True)
class ColumnRef:
    """A metric or parameter by name; ``kind`` None until resolved against the catalog's names."""

    kind: str | None
    name: str

    @property
    def key(self) -> str:
        """``metric:val_loss``: how the URL and the JSON name the column."""
        return f"{self.kind}:{self.name}"


def parse_column(text: str) -> ColumnRef:
    """``metric:NAME`` or ``param:NAME`` (a bare name stays unresolved: :func:`resolve` picks its kind)."""
    kind, sep, name = text.partition(":")
    if sep and kind in KINDS:
        if not name:
            raise FilterError(f"column {text!r}: no name after {kind}:")
        return ColumnRef(kind, name)
    if not text.strip():
        raise FilterError("empty column name")
    return ColumnRef(None, text.strip())


def resolve(ref: ColumnRef, names: dict[str, set[str]]) -> ColumnRef:
    """The column with its kind, from the names the catalog has (``names[kind]``); one-line errors otherwise."""
    if ref.kind is not None:
        if ref.name not in names.get(ref.kind, set()):
            raise FilterError(f"no {'parameter' if ref.kind == 'param' else 'metric'} named {ref.name!r}")
        return ref
    kinds = [kind for kind in KINDS if ref.name in names.get(kind, set())]
    if not kinds:
        raise FilterError(f"no metric or parameter named {ref.name!r}")
    if len(kinds) > 1:
        raise FilterError(f"{ref.name!r} is both a metric and a parameter: write metric:{ref.name} or "
                          f"param:{ref.name}")
    return ColumnRef(kinds[0], ref.name)


@dataclass(frozen=True)
class Filter:
    """``column op operand``; ``in`` takes a closed range ``[low, high]`` or a set ``(a, b, c)``."""

    column: ColumnRef
    op: str  # one of < <= > >= = != range in
    operands: tuple[Value, ...]

    def matches(self, value: Value | None) -> bool:
        """Whether a run's value passes; a run without the value passes no filter, NaN no comparison."""
        if value is None:
            return False
        if self.op == "range":
            low, high = self.operands
            return _is_number(value) and low <= value <= high  # type: ignore[operator]
        if self.op in ("=", "!="):
            return _equal(value, self.operands[0]) == (self.op == "=")
        if self.op == "in":
            return any(_equal(value, operand) for operand in self.operands)
        if not _is_number(value):
            return False
        operand = self.operands[0]
        return {"<": value < operand, "<=": value <= operand,  # type: ignore[operator]
                ">": value > operand, ">=": value >= operand}[self.op]  # type: ignore[operator]

    def text(self) -> str:
        """The filter written back canonically (the column's kind spelled out)."""
        name = self.column.name if re.fullmatch(_BARE, self.column.name) else f'"{self.column.name}"'
        name = f"{self.column.kind}:{name}" if self.column.kind else name
        if self.op == "range":
            return f"{name} in [{_spell(self.operands[0])}, {_spell(self.operands[1])}]"
        if self.op == "in":
            return f"{name} in ({', '.join(_spell(o) for o in self.operands)})"
        return f"{name} {self.op} {_spell(self.operands[0])}"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(value: Value, operand: Value) -> bool:
    if _is_number(value) and _is_number(operand):
        both_nan = isinstance(value, float) and isinstance(operand, float) and math.isnan(value) and math.isnan(operand)
        return both_nan or value == operand
    return str(value).casefold() == str(operand).casefold()


def _spell(value: Value) -> str:
    """A filter's operand as it parses back: numbers in full, texts quoted when they would not read as text."""
    if not isinstance(value, str):
        return repr(value)
    plain = re.fullmatch(r'[^\s,\[\]()"]+', value) and number(value) is None
    return value if plain else '"' + "".join(c for c in value if c != '"') + '"'  # a quoted value holds no quote


def number(text: str) -> float | int | None:
    """The number a filter's text spells (``1e-4``, ``32``, ``nan``, ``-inf``), or None."""
    if not _NUMBER.fullmatch(text):
        return None
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    return float(text)


def parse_filters(texts: list[str]) -> list[Filter]:
    """Each non-blank ``where`` text as a :class:`Filter` (at most :data:`MAX_FILTERS`)."""
    texts = [t for t in texts if t.strip()]
    if len(texts) > MAX_FILTERS:
        raise FilterError(f"at most {MAX_FILTERS} filters at once, got {len(texts)}")
    return [parse_filter(text) for text in texts]


def parse_filter(text: str) -> Filter:
    """One filter: ``NAME OP VALUE``, ``NAME in [LOW, HIGH]`` or ``NAME in (A, B, ...)``; NAME may be
    ``metric:NAME``, ``param:NAME`` or ``"a quoted name"``; a VALUE with spaces is quoted."""
    shown = text if len(text) <= 60 else text[:57] + "..."
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(f"filter {shown!r}: longer than {MAX_FILTER_LENGTH} characters")
    if any(ord(c) < 32 for c in text):
        raise FilterError(f"filter {shown!r}: control characters are not allowed")

    def fail(problem: str) -> FilterError:
        return FilterError(f"filter {shown!r}: {problem}")

    rest = text.strip()
    kind = None
    for candidate in KINDS:
        if rest.startswith(candidate + ":"):
            kind, rest = candidate, rest[len(candidate) + 1:]
            break
    match = _NAME.match(rest)
    if not match:
        raise fail("expected a metric or parameter name first")
    name = match["quoted"] or match["bare"]
    rest = rest[match.end():].strip()
    column = ColumnRef(kind, name)
    in_match = re.match(r"in\b\s*", rest, re.IGNORECASE)
    if in_match:
        return _parse_in(column, rest[in_match.end():].strip(), fail)
    op = next((o for o in _OPERATORS if rest.startswith(o)), None)
    if op is None:
        raise fail("expected an operator (< <= > >= = != in) after the name"
                   if rest else "expected an operator and a value after the name")
    operand_text = rest[len(op):].strip()
    if not operand_text:
        raise fail(f"expected a value after {op!r}")
    operand = _operand(operand_text, fail)
    op = "=" if op == "==" else op
    if op in ("<", "<=", ">", ">=") and not _is_number(operand):
        raise fail(f"{op!r} compares numbers, got {operand_text!r}")
    return Filter(column, op, (operand,))


def _operand(text: str, fail) -> Value:
    if text.startswith('"'):
        if len(text) < 2 or not text.endswith('"') or '"' in text[1:-1]:
            raise fail("a quoted value needs its closing quote (and no quote inside)")
        return text[1:-1]
    found = number(text)
    return found if found is not None else text


def _parse_in(column: ColumnRef, rest: str, fail) -> Filter:
    if not rest or rest[0] not in "[(" or rest[-1] != {"[": "]", "(": ")"}[rest[0]]:
        raise fail("'in' takes a range [low, high] or a list (a, b, ...)")
    items = [item.strip() for item in rest[1:-1].split(",")]
    if any(not item for item in items):
        raise fail("an empty value in the brackets")
    operands = tuple(_operand(item, fail) for item in items)
    if rest[0] == "(":
        return Filter(column, "in", operands)
    if len(operands) != 2 or not all(_is_number(o) for o in operands):
        raise fail("a range is two numbers: [low, high]")
    low, high = operands
    if math.isnan(low) or math.isnan(high):  # type: ignore[arg-type]
        raise fail("a range cannot end at NaN")
    if low > high:  # type: ignore[operator]
        raise fail(f"the range is empty: {_spell(low)} > {_spell(high)}")
    return Filter(column, "range", operands)
