"""Walking time and distance: the one conversion every walk of the product uses."""

from __future__ import annotations


def walk_cutoff_m(minutes: float, speed_mps: float) -> float:
    """The metres walked in ``minutes`` at ``speed_mps`` (the 15-minute circle at an elder's 1.0 m/s: 900 m)."""
    return float(minutes) * 60.0 * float(speed_mps)
