"""Timing helper shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time


def median_time(fn, repeat: int) -> tuple[float, object]:
    """(median seconds, last result) of ``fn()`` run ``repeat`` times."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out
