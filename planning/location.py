"""One siting request, any model: the dispatch shared by the page (via services/siting.py) and cli.py.

A :class:`SitingInputs` holds what every model needs — the candidates' and the
staying facilities' walks, capacities, weights, costs, township / rural labels
and floors; :func:`run_model` solves a :class:`SitingRequest` on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from geo.reach import WalkPairs
from planning.allocation import AllocationProblem, served_within_capacity, weight_per_person
from planning.candidates import Candidates
from planning.siting import CoverageCurve, Floor, SitingProblem, SitingResult

MODELS = ("mclp", "lscp", "capacitated", "pmedian", "equity", "budget", "curve")
MODEL_LABELS = {  # plain words for the page and the command line
    "mclp": ("新增 k 个站点，覆盖老人最多", "Best k sites: most elders within the walk (MCLP)"),
    "lscp": ("达到目标覆盖率，所需站点最少", "Fewest sites for a covered share (LSCP)"),
    "capacitated": ("新增 k 个站点，容量内服务老人最多", "Best k sites: most elders served within capacity"),
    "pmedian": ("新增 k 个站点，老人总步行距离最短", "Best k sites: least total walking (p-median)"),
    "equity": ("新增 k 个站点，每个乡镇及城乡都达到下限", "Best k sites with township and rural floors"),
    "budget": ("在预算内覆盖老人最多（新建/改造成本不同）", "Most coverage within a budget"),
    "curve": ("覆盖率随站点数变化曲线（找拐点）", "Coverage against the number of sites (the elbow)"),
}


@dataclass(frozen=True)
class SitingRequest:
    model: str = "mclp"
    k: int | None = None  # mclp, capacitated, pmedian, equity; curve: the largest k
    target_share: float | None = None  # lscp
    budget: float | None = None  # budget (万元, or the unit of the candidate file's costs)
    maximin: bool = False  # equity: raise the lowest township instead of meeting the floors
    method: str = "exact"  # exact | greedy
    time_limit_s: float = 30.0

    def problem(self) -> str | None:
        """What is wrong with the request, in words a planner can act on; None when it can be solved."""
        if self.model not in MODELS:
            return f"未知的选址模型 {self.model!r}，可选：{'、'.join(MODELS)}"
        if self.model in ("mclp", "capacitated", "pmedian", "equity", "curve") and (self.k is None or self.k < 1):
            return "请给出新增站点数 k（≥ 1）"
        if self.model == "lscp" and (self.target_share is None or not 0 < self.target_share <= 1):
            return "请给出目标覆盖率（0 到 1 之间，如 0.9）"
        if self.model == "budget" and (self.budget is None or not np.isfinite(self.budget) or self.budget <= 0):
            return "请给出预算（大于 0，单位与候选点成本一致，默认万元）"
        if self.method not in ("exact", "greedy"):
            return f"未知的求解方法 {self.method!r}：exact 或 greedy"
        if not self.time_limit_s > 0:
            return "限时必须大于 0 秒"
        return None


@dataclass(frozen=True)
class SitingInputs:
    cands: Candidates
    pairs: WalkPairs  # candidates × elder groups within the walk
    on_net: np.ndarray  # candidates on the network
    existing: WalkPairs  # the facilities that stay × elder groups
    existing_capacity: np.ndarray
    new_capacity: float  # capacity of one new station (the kind the optimiser opens)
    covered: np.ndarray  # elder groups within the walk of a facility that stays
    weights: np.ndarray  # siting weight per elder group (what the objectives count)
    people: np.ndarray  # elders per group (what takes a place within a capacity)
    costs: np.ndarray  # per candidate
    labels: np.ndarray  # per elder group: township index * 2 + rural
    floors: tuple[Floor, ...]
    cutoff_m: float


def served_share(si: SitingInputs) -> float:
    """Share of the siting weight whose elders the facilities that stay serve within capacity (nearest with
    room; capacity counts elders, each served elder brings their group's weight per elder)."""
    served, _ = served_within_capacity(si.existing, si.people, si.existing_capacity)
    total = float(si.weights.sum())
    return float(served @ weight_per_person(si.weights, si.people)) / total if total else 0.0


def run_model(si: SitingInputs, request: SitingRequest, *, time_limit_s: float, penalty_m: float | None = None,
              curve_exact_every: int = 10, progress: Callable[[str], None] = lambda _m: None
              ) -> SitingResult | CoverageCurve:
    """Solve ``request`` on ``si`` (a bad request raises ValueError naming what to change)."""
    why = request.problem()
    if why:
        raise ValueError(why)
    model, k, limit = request.model, request.k, time_limit_s
    ids = si.cands.ids
    progress(f"建立模型：{len(ids):,} 个候选点 × {si.pairs.n_points:,} 个老人点位 …")
    if model in ("capacitated", "pmedian"):
        problem = AllocationProblem(si.pairs, si.weights, candidate_ids=ids, capacity=si.new_capacity,
                                    existing=si.existing, existing_capacity=si.existing_capacity, people=si.people)
        progress(f"求解中（{'HiGHS' if request.method == 'exact' else '快速方法'}，限时 {limit:g} 秒）…")
        if model == "capacitated":
            return problem.solve_capacitated(k, method=request.method, time_limit_s=limit)
        return problem.solve_pmedian(k, penalty_m=penalty_m, method=request.method, time_limit_s=limit)
    problem = SitingProblem(si.pairs.coverage(), si.weights, candidate_ids=ids, covered_now=si.covered,
                            costs=si.costs, labels=si.labels)
    r = problem.reductions
    progress(f"化简后 {r.candidates_kept:,} 个候选点 × {r.demand_kept:,} 个需求组；求解中（限时 {limit:g} 秒）…")
    if model == "lscp":
        return problem.solve_lscp(request.target_share, time_limit_s=limit)
    if model == "budget":
        return problem.solve_budget(request.budget, method=request.method, time_limit_s=limit)
    if model == "equity":
        return problem.solve_equity(k, list(si.floors), maximin=request.maximin, method=request.method,
                                    time_limit_s=limit)
    if model == "curve":
        exact_at = tuple(range(curve_exact_every, k + 1, curve_exact_every)) if request.method == "exact" else ()
        return problem.curve(k, exact_at=exact_at, time_limit_s=limit / max(1, len(exact_at)))
    if request.method == "greedy":
        return problem.solve_greedy(k)
    return problem.solve_mclp(k, time_limit_s=limit)


def served_curve(si: SitingInputs, max_k: int) -> np.ndarray:
    """Served-within-capacity weight after the capacitated greedy's first k picks, k = 0 … max_k."""
    problem = AllocationProblem(si.pairs, si.weights, candidate_ids=si.cands.ids, capacity=si.new_capacity,
                                existing=si.existing, existing_capacity=si.existing_capacity, people=si.people)
    return problem.served_curve(max_k)
