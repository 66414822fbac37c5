"""A metric's every logged value, kept as one literal (``eg:history``) beside its first/min/max/count summary.

Why one literal and not a node per point: a point as a node costs three or four statements, so a 100k-step history
would add 400k statements to the store and as many index seeks to a chart; one literal is read in one seek and
parsed here. The spelling is ``step,value,time`` per point, points separated by one space, in step order: the
value as XML Schema spells a double (``NaN``, ``INF``, ``-INF`` kept as such), the time in milliseconds since the
epoch (empty when the tracker logged none). Only ASCII digits, signs, letters of those spellings, commas and spaces,
so the N-Triples literal needs no escaping.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from math import isfinite

from expgraph.lexical import double_lexical

#: One logged value: (step, value, when it was logged or None).
HistoryPoint = tuple[int, float, datetime | None]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)

#: The most points one ``eg:history`` keeps (about, see :func:`extremes`): a chart is sent at most 1,200 per series,
#: and every point kept costs the import about 10 us (benchmarks/results/history-import.txt). Longer histories keep
#: each bucket's extremes; ``eg:valueCount`` still says how many values were logged.
MAX_POINTS = 10_000


def extremes(values: Sequence[float], buckets: int) -> list[int]:
    """Indices of the points to keep so that ``values`` fit ``buckets`` runs of consecutive points: each run's
    lowest and highest finite value and the first value of each non-finite kind (NaN, INF, -INF), in order.
    Spikes and dips survive, and so does every stretch where a value went NaN."""
    count = len(values)
    if count <= 2 * buckets:
        return list(range(count))
    keep: list[int] = []
    for bucket in range(buckets):
        start, end = bucket * count // buckets, (bucket + 1) * count // buckets
        chosen: dict[str, int] = {}
        low = high = None
        for i in range(start, end):
            value = values[i]
            if isfinite(value):
                if low is None or value < values[low]:
                    low = i
                if high is None or value > values[high]:
                    high = i
            else:
                chosen.setdefault(double_lexical(value), i)
        keep.extend(sorted({*chosen.values(), *(i for i in (low, high) if i is not None)}))
    return keep


def history_text(points: Iterable[HistoryPoint], limit: int = MAX_POINTS) -> str:
    """The ``eg:history`` spelling of ``points`` (sorted by step here, so every tracker writes the same text); more
    than ``limit`` points are cut to each bucket's extremes (:func:`extremes`).

    Written for speed (it runs once per logged value at import): the time as whole milliseconds by integer
    arithmetic, ``repr`` of a finite value directly (what :func:`double_lexical` gives it)."""
    ordered = sorted(points, key=_step)
    if len(ordered) > limit:
        ordered = [ordered[i] for i in extremes([point[1] for point in ordered], limit // 2)]
    parts: list[str] = []
    append = parts.append
    for step, value, when in ordered:
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
