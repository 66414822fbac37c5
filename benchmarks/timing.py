"""Timing helpers shared by the benchmark scripts (no expgraph import, so any tree under test can use them)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_ms(action: Callable[[], object], repeat: int) -> float:
    """The median wall time of ``repeat`` calls of ``action``, in milliseconds: the median, because this machine
    is shared and noisy, and one slow call says more about the neighbours than about the code."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)
