"""Metric summaries, one definition for every tracker: count, minimum, maximum, first and last value.

A metric's points are ordered by step, then timestamp, then the order the tracker logged them in; "first" is the
earliest point in that order and "last" the latest (its value is the metric's final value, ``mls:hasValue``, unless
the tracker keeps its own summary value, as W&B does). Step comes first because it is the training's own clock: a
value re-logged later for an earlier step (an evaluation redone) is still about that step, and trackers that merge
resumed runs (W&B, TensorBoard) keep one value per step. Logging order only breaks a tie of step and timestamp, so
the answer never depends on the values themselves. Minimum and maximum ignore NaN unless every value is NaN.
See docs/importers.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from expgraph.records import MetricHistory, MetricValue


class Point(NamedTuple):
    """One logged value. ``timestamp`` is whatever the tracker keeps (seconds, milliseconds, a datetime, an ISO
    text): only compared within one metric, and turned into a datetime by the caller's ``time`` for the last one."""

    step: int
    timestamp: Any
    value: float


def _utc(timestamp: Any) -> datetime | None:
    """Seconds since the epoch, or a datetime (naive ones taken as UTC)."""
    if timestamp is None:
        return None
    if isinstance(timestamp, datetime):
        return timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=UTC)
    return datetime.fromtimestamp(timestamp, UTC)


def _position(item: tuple[int, Point]) -> tuple[int, bool, Any, int]:
    index, point = item
    return point.step, point.timestamp is not None, point.timestamp if point.timestamp is not None else 0, index


def first_and_last(points: Sequence[Point]) -> tuple[Point, Point]:
    """The first and last of ``points`` (given in logging order) by step, then timestamp, then logging order."""
    numbered = list(enumerate(points))
    return min(numbered, key=_position)[1], max(numbered, key=_position)[1]


def summarise(key: str, points: Sequence[Point], *, final: float | None = None,
              time: Callable[[Any], datetime | None] = _utc, keep: bool = False) -> MetricValue:
    """The metric's last value with its step and time, and the summary of its history.

    ``points``: every point, in logging order. ``final`` replaces the last point's value when the tracker keeps a
    summary value of its own. ``keep``: every point is kept too (``MetricHistory.points``, written as ``eg:history``
    for charts)."""
    first, last = first_and_last(points)
    numbers = [point.value for point in points if not math.isnan(point.value)]
    return MetricValue(
        key=key,
        value=last.value if final is None else final,
        step=last.step,
        timestamp=time(last.timestamp),
        history=MetricHistory(first=first.value, minimum=min(numbers, default=math.nan),
                              maximum=max(numbers, default=math.nan), count=len(points),
                              points=tuple((p.step, p.value, time(p.timestamp)) for p in points) if keep else ()),
    )


def summarise_steps(key: str, points: Mapping[int, tuple[float, datetime | None]],
                    final: float | None = None) -> MetricValue:
    """A history kept as ``{step: (value, timestamp)}`` (W&B, TensorBoard: a resumed run's later write for a step
    replaces the earlier one), summarised by :func:`summarise`."""
    return summarise(key, [Point(step, timestamp, value) for step, (value, timestamp) in points.items()], final=final,
                     keep=True)
