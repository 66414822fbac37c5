"""Metric histories shared by the importers that see every logged value (W&B, TensorBoard).

A history is ``{step: (value, timestamp)}``; resumed runs merge several histories by step, the later write
winning. The record keeps the final value and a compact summary (first, min, max, count), not every point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from expgraph.records import MetricHistory, MetricValue

Points = Mapping[int, tuple[float, datetime | None]]


def metric_from_points(key: str, points: Points, final: float | None = None) -> MetricValue:
    """The metric's last point by step (or ``final`` when the tracker keeps its own summary value)."""
    steps = sorted(points)
    values = [points[step][0] for step in steps]
    finite = [value for value in values if not math.isnan(value)] or values
    last_step = steps[-1]
    value, timestamp = points[last_step]
    return MetricValue(
        key=key,
        value=value if final is None else final,
        step=last_step,
        timestamp=timestamp,
        history=MetricHistory(first=values[0], minimum=min(finite), maximum=max(finite), count=len(values),
                              points=tuple((step, *points[step]) for step in steps)),
    )
