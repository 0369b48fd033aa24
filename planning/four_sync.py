"""Four-synchronous (四同步) checks of residential projects against rules from the config.

Every rule gives each project one outcome: pass, fail (with a reason in
Chinese), not applicable (e.g. an old-area threshold on a new-area project, or
a stage the housing has not reached) or not evaluated (the walking rule when no
roads and facilities were given: never counted as passed).

Stage rules: the facility's date must be no later than the housing's date plus
the grace. A stage the housing has passed (its date is on or before ``as_of``)
with no facility date fails; a housing date still in the future with no
facility date is pending (not applicable yet).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

PASS, FAIL, NA, NOT_EVALUATED = "pass", "fail", "na", "not_evaluated"
STATUS_ZH = {PASS: "合规", FAIL: "不合规", NA: "不适用", NOT_EVALUATED: "未评估"}
OVERALL_ZH = {"compliant": "合规", "violation": "不合规", "incomplete": "待评估"}
STAGES = ("plan", "build", "accept", "deliver")


@dataclass(frozen=True)
class Project:
    name: str
    township_code: str
    lon: float
    lat: float
    households: int
    area_type: str  # "new" | "old"
    facility_area_m2: float
    housing: dict[str, dt.date | None]  # stage -> date
    facility: dict[str, dt.date | None]
    facility_in_elderly_use: bool


@dataclass(frozen=True)
class WalkAccess:
    """The walking rule's input for one project: reached or not, and the nearest care facility on foot."""

    reached: bool
    nearest_m: float | None = None  # walking metres to the nearest care facility (None: none found)
    on_network: bool = True


@dataclass(frozen=True)
class Outcome:
    rule_id: str
    status: str
    reason: str = ""


@dataclass(frozen=True)
class ProjectCheck:
    project: Project
    outcomes: tuple[Outcome, ...] = field(default_factory=tuple)

    @property
    def status(self) -> str:
        """violation if any rule fails; else incomplete if any is not evaluated; else compliant."""
        states = {o.status for o in self.outcomes}
        if FAIL in states:
            return "violation"
        return "incomplete" if NOT_EVALUATED in states else "compliant"

    @property
    def failed_rules(self) -> tuple[str, ...]:
        return tuple(o.rule_id for o in self.outcomes if o.status == FAIL)

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(o.reason for o in self.outcomes if o.status == FAIL)

    def outcome(self, rule_id: str) -> Outcome:
        return next(o for o in self.outcomes if o.rule_id == rule_id)


def _area(rule, p: Project) -> Outcome:
    if p.area_type != rule.area_type:
        return Outcome(rule.id, NA)
    need = rule.min_m2_per_100_households * p.households / 100.0
    # exactly the threshold passes; a rounding hair below it too
    if p.facility_area_m2 + 1e-9 * max(1.0, need) >= need:
        return Outcome(rule.id, PASS)
    reason = rule.message_zh.format(area=round(p.facility_area_m2, 2), need=round(need, 2),
                                    short=round(need - p.facility_area_m2, 2), households=p.households,
                                    min=rule.min_m2_per_100_households)
    return Outcome(rule.id, FAIL, reason)


def _stage(rule, p: Project, *, as_of: dt.date, default_grace: int) -> Outcome:
    grace = default_grace if rule.grace_days is None else rule.grace_days
    housing, facility = p.housing.get(rule.stage), p.facility.get(rule.stage)
    if housing is None:
        return Outcome(rule.id, NA)
    if facility is None:
        if housing > as_of:
            return Outcome(rule.id, NA)  # pending: the housing has not reached this stage yet
        return Outcome(rule.id, FAIL, rule.message_missing_zh.format(housing_date=housing.isoformat()))
    late = (facility - housing).days
    if late <= grace:
        return Outcome(rule.id, PASS)
    return Outcome(rule.id, FAIL, rule.message_zh.format(days=late, grace=grace, housing_date=housing.isoformat(),
                                                        facility_date=facility.isoformat()))


def _in_use(rule, p: Project, *, as_of: dt.date) -> Outcome:
    delivered = p.facility.get("deliver")
    if delivered is None or delivered > as_of:
        return Outcome(rule.id, NA)
    if p.facility_in_elderly_use:
        return Outcome(rule.id, PASS)
    return Outcome(rule.id, FAIL, rule.message_zh.format(facility_date=delivered.isoformat()))


def _walk(rule, walk: WalkAccess | None) -> Outcome:
    if walk is None:
        return Outcome(rule.id, NOT_EVALUATED, "未提供路网与设施，未评估步行可达")
    if walk.reached:
        return Outcome(rule.id, PASS)
    if not walk.on_network:
        nearest = "小区距最近道路过远，无法步行计算"
    elif walk.nearest_m is None:
        nearest = "步行范围内找不到任何养老服务设施"
    else:
        nearest = f"最近设施步行约 {walk.nearest_m:.0f} 米"
    return Outcome(rule.id, FAIL, rule.message_zh.format(minutes=rule.minutes, nearest=nearest))


def check_project(p: Project, rules: Sequence, *, as_of: dt.date, default_grace: int = 0,
                  walk: WalkAccess | None = None) -> ProjectCheck:
    out = []
    for rule in rules:
        if rule.kind == "area":
            out.append(_area(rule, p))
        elif rule.kind == "stage":
            out.append(_stage(rule, p, as_of=as_of, default_grace=default_grace))
        elif rule.kind == "in_use":
            out.append(_in_use(rule, p, as_of=as_of))
        elif rule.kind == "walk":
            out.append(_walk(rule, walk))
        else:
            msg = f"rule {rule.id!r}: unknown kind {rule.kind!r}"
            raise ValueError(msg)
    return ProjectCheck(p, tuple(out))


def check_projects(projects: Sequence[Project], rules: Sequence, *, as_of: dt.date, default_grace: int = 0,
                   walks: Sequence[WalkAccess] | None = None) -> list[ProjectCheck]:
    if walks is not None and len(walks) != len(projects):
        msg = f"{len(walks)} walking results for {len(projects)} projects"
        raise ValueError(msg)
    return [check_project(p, rules, as_of=as_of, default_grace=default_grace, walk=None if walks is None else walks[i])
            for i, p in enumerate(projects)]


def compliance_rate(checks: Sequence[ProjectCheck]) -> tuple[int, int]:
    """(compliant, assessed): projects with every applicable rule passed, over projects fully assessed."""
    assessed = [c for c in checks if c.status != "incomplete"]
    return sum(c.status == "compliant" for c in assessed), len(assessed)


def walk_access(net, sites, lonlat, *, cutoff_m: float, max_snap_m: float, look_m: float | None = None) -> list[WalkAccess]:
    """The walking rule's input for projects at ``lonlat``: a care facility (``sites``, snapped) within ``cutoff_m``.

    The search looks up to ``look_m`` (default 3 × the cutoff) so a failing
    project can be told how far its nearest facility is.
    """
    # imported here: the rule checks alone (cli.py four-sync without a network) need no walking engine
    from geo.snapping import snap_points
    from planning.coverage import CoverageModel

    lonlat = np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)
    pts = snap_points(net, lonlat, np.arange(len(lonlat)), max_snap_m=max_snap_m)
    model = CoverageModel(net, pts, np.ones(len(lonlat)), categories=("projects",), area_of_demand=np.zeros(len(lonlat)))
    far = model.evaluate(sites, cutoff_m=look_m or 3 * cutoff_m)
    return [WalkAccess(reached=bool(d <= cutoff_m), nearest_m=None if not np.isfinite(d) else float(d), on_network=bool(ok))
            for d, ok in zip(far.network_m, pts.ok, strict=True)]
