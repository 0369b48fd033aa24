"""A decision's status from its readings: the measure at each dated data version since it was taken.

- **done**: the newest reading meets the goal; it is dated by the first reading of the run of readings that
  meet it up to now (the version that first showed it, unless it slipped back since). A task is done when its
  owner reported it done with a written result.
- **overdue**: not done and its due date has passed.
- **at risk**: not done, due date ahead, and the trend falls short: for a value (a target), the straight line
  through its readings since it was decided, carried to the due date, does not reach the goal; for a yes/no
  measure (a station, a project, a task), fewer than ``at_risk_days`` days are left.
- **on track**: otherwise.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

STATES = ("overdue", "at_risk", "on_track", "done")  # the order a list shows them in: what needs action first
STATE_ZH = {"done": "已完成", "on_track": "按计划推进", "at_risk": "有风险", "overdue": "已逾期"}
STATE_COLOUR = {"done": "#66bb6a", "on_track": "#90caf9", "at_risk": "#ffca28", "overdue": "#ef5350"}


@dataclass(frozen=True)
class Reading:
    """The measure at one data date: ``value`` (a target's value; 1 or 0 for a yes/no measure; None when the
    data does not say), whether it meets the goal, and the data version in words."""

    date: dt.date
    value: float | None
    met: bool
    version_zh: str


@dataclass(frozen=True)
class Status:
    state: str
    done_on: dt.date | None = None  # the data date (or the report's date, for a task) that first showed it done
    done_version: str = ""
    projected: float | None = None  # a target's trend value at the due date
    latest: Reading | None = None

    @property
    def state_zh(self) -> str:
        return STATE_ZH[self.state]


def reaches(value: float | None, goal: float, direction: str) -> bool:
    """Whether a target's value meets its goal (``at_least`` or ``at_most``)."""
    if value is None or not math.isfinite(value):
        return False
    return value >= goal if direction == "at_least" else value <= goal


def trend_at(readings: list[Reading], day: dt.date) -> float | None:
    """The least-squares line through the readings' (date, value), at ``day``; None with fewer than two dates."""
    points = [(r.date.toordinal(), r.value) for r in readings if r.value is not None and math.isfinite(r.value)]
    if len({x for x, _ in points}) < 2:
        return None
    n = len(points)
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    return my + slope * (day.toordinal() - mx)


def evaluate(readings: list[Reading], *, due: dt.date, today: dt.date, goal: float | None = None,
             direction: str | None = None, at_risk_days: int = 30) -> Status:
    """The status of a data-measured decision from its readings (oldest first)."""
    readings = sorted(readings, key=lambda r: r.date)
    latest = readings[-1] if readings else None
    if latest is not None and latest.met:
        first = len(readings) - 1
        while first > 0 and readings[first - 1].met:
            first -= 1
        return Status("done", readings[first].date, readings[first].version_zh, latest=latest)
    if today > due:
        return Status("overdue", latest=latest)
    projected = trend_at(readings, due) if goal is not None and direction is not None else None
    if projected is not None:
        state = "on_track" if reaches(projected, goal, direction) else "at_risk"
        return Status(state, projected=projected, latest=latest)
    return Status("at_risk" if (due - today).days < at_risk_days else "on_track", latest=latest)


def task_status(*, closed_on: dt.date | None, due: dt.date, today: dt.date, at_risk_days: int = 30) -> Status:
    """A free task: done when its owner reported it done, else by its due date."""
    if closed_on is not None:
        return Status("done", closed_on, "责任方报告完成")
    if today > due:
        return Status("overdue")
    return Status("at_risk" if (due - today).days < at_risk_days else "on_track")
