"""A metric's every logged value, kept as one literal (``eg:history``) beside its first/min/max/count summary.

Why one literal and not a node per point: a point as a node costs three or four statements, so a 100k-step history
would add 400k statements to the store and as many index seeks to a chart; one literal is read in one seek and
parsed here. The spelling is ``step,value,time`` per point, points separated by one space, in step order: the
value as XML Schema spells a double (``NaN``, ``INF``, ``-INF`` kept as such), the time in milliseconds since the
epoch (empty when the tracker logged none). Only ASCII digits, signs, letters of those spellings, commas and spaces,
so the N-Triples literal needs no escaping.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from math import isfinite

from expgraph.lexical import double_lexical

#: One logged value: (step, value, when it was logged or None).
HistoryPoint = tuple[int, float, datetime | None]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)

def history_text(points: Iterable[HistoryPoint]) -> str:
    """The ``eg:history`` spelling of ``points`` (sorted by step here, so every tracker writes the same text).

    Written for speed (it runs once per logged value at import): the time as whole milliseconds by integer
    arithmetic, ``repr`` of a finite value directly (what :func:`double_lexical` gives it)."""
    parts: list[str] = []
    append = parts.append
    for step, value, when in sorted(points, key=_step):
        text = repr(float(value)) if isfinite(value) else double_lexical(value)
        if when is None:
            append(f"{int(step)},{text},")
        else:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            append(f"{int(step)},{text},{(when - _EPOCH) // _MILLISECOND}")
    return " ".join(parts)


def _step(point: HistoryPoint) -> int:
    return point[0]


def read_history(text: str) -> tuple[list[int], list[float], list[float | None]]:
    """Steps, values and times (seconds since the epoch, or None) of an ``eg:history`` text, as three columns.

    Raises ``ValueError`` naming the first point that is not ``step,value,time``."""
    steps: list[int] = []
    values: list[float] = []
    times: list[float | None] = []
    for index, point in enumerate(text.split()):
        try:
            step, value, millis = point.split(",")
            steps.append(int(step))
            values.append(float(value))  # Python reads NaN, INF and -INF too
            times.append(int(millis) / 1000 if millis else None)
        except ValueError:
            raise ValueError(f"eg:history point {index + 1} is not step,value,time: {point[:60]!r}") from None
    return steps, values, times
