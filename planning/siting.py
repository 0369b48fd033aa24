"""Optimal siting of new stations on walking coverage: MCLP, LSCP, equity floors, a budget, the coverage curve.

Built spopt-style: a :class:`SitingProblem` is made once from a coverage
matrix (candidate × demand point: can this candidate reach this point within
the walk?), the demand weights and what existing facilities already cover;
``solve_*`` then returns a frozen :class:`SitingResult`.

- ``solve_mclp(k)``: the k new sites covering the most weight;
- ``solve_lscp(share)``: the fewest new sites reaching a covered share;
- ``solve_equity(k, floors)``: the most weight with every floor (a township,
  the rural villages, …) at least at its share — or, ``maximin=True``, the
  lowest floor's share as high as it can be, then the most weight;
- ``solve_budget(budget)``: the most weight for new sites whose costs fit the
  budget (candidates cost what their file or the config says);
- ``curve(K)``: covered weight against the number of new sites, k = 1 … K,
  greedy at every k and exact at the chosen ones, with the elbow.

Before the solver sees it, the model is reduced: demand already covered or
out of every candidate's reach is dropped, demand points with identical
candidate sets (and the same floor label) are merged, weights summed, and
dominated candidates (whose set lies inside another's that costs no more) are
removed. The MIP goes to HiGHS with a time limit and the heuristic answer as a
start; the status, objective, bound and gap are reported. The greedy (+ swap)
heuristic answers at once and reports its gap to the LP bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import sparse

from planning.mip import Model


@dataclass(frozen=True)
class Reductions:
    demand_in: int
    demand_kept: int  # after dropping covered / unreachable demand and merging duplicates
    candidates_in: int
    candidates_kept: int  # after removing empty and dominated candidates


@dataclass(frozen=True)
class SitingResult:
    method: str  # "exact" | "greedy"
    status: str  # "optimal" | "time_limit" | "heuristic" | "infeasible"
    chosen: tuple  # candidate ids, in the order given
    objective: float  # the model's objective: covered (or served) weight, or total weighted metres (p-median)
    bound: float | None  # proven bound on the objective (upper when maximising, lower for p-median)
    gap: float | None  # |bound - objective| / |bound|
    total_weight: float
    solve_s: float
    reductions: Reductions
    message: str = ""
    model: str = "mclp"  # mclp | lscp | equity | budget | capacitated | pmedian
    covered: float | None = None  # weight covered within the walk (p-median: besides its distance objective)
    cost: float | None = None  # what the chosen sites cost (budget)
    floor_shares: tuple = field(default=())  # ((floor name, share reached, floor share), …) for equity

    @property
    def share(self) -> float:
        """Covered (or served) share of the total weight."""
        value = self.objective if self.covered is None else self.covered
        return value / self.total_weight if self.total_weight else 0.0


@dataclass(frozen=True)
class Floor:
    """At least ``share`` of the weight labelled with one of ``labels`` must be covered."""

    name: str  # shown in messages: a township's name, "农村", …
    labels: tuple[int, ...]
    share: float


def group_labels(township, rural, *, names=None, all_townships=(), township_floor: float = 0.0,
                 rural_floor: float = 0.0, urban_floor: float = 0.0) -> tuple[np.ndarray, tuple[Floor, ...]]:
    """Each demand point's floor label — its township's index × 2, + 1 when it lives in a village — and the
    floors: every township the points name (not the unnamed ""), the villages (农村（村委会）) and the urban
    communities (城镇（居委会）), each at its share when that share is above 0.

    ``township``: a code (or name) per point; ``rural``: per point, or None when the demand does not say (then
    neither the rural nor the urban floor applies); ``names``: a township's shown name by code; ``all_townships``:
    codes that take an index even with no point (so labels agree across demand sets of one district).
    """
    township = [str(t) for t in township]
    known = rural is not None
    rural = np.zeros(len(township), dtype=bool) if rural is None else np.asarray(rural, dtype=bool)
    codes = sorted(set(township) | {str(c) for c in all_townships})
    index = {c: i for i, c in enumerate(codes)}
    labels = np.array([index[t] for t in township], dtype=np.int64) * 2 + rural
    names = names or {}
    present = set(township) - {""}
    floors = [Floor(names.get(c, c), (2 * i, 2 * i + 1), township_floor) for c, i in index.items()
              if township_floor > 0 and c in present]
    if known and rural_floor > 0 and rural.any():
        floors.append(Floor("农村（村委会）", tuple(2 * i + 1 for i in index.values()), rural_floor))
    if known and urban_floor > 0 and (~rural).any():
        floors.append(Floor("城镇（居委会）", tuple(2 * i for i in index.values()), urban_floor))
    return labels, tuple(floors)


@dataclass(frozen=True)
class CoverageCurve:
    k: np.ndarray  # 0 … K
    greedy: np.ndarray  # covered weight of the greedy's first k sites (existing coverage included)
    exact: dict  # k -> SitingResult (proven optimum, or the best found at the time limit)
    total_weight: float
    elbow: int  # where the curve bends most (Kneedle: farthest above the chord from k=0 to k=K)
    solve_s: float

    def share(self, values: np.ndarray | None = None) -> np.ndarray:
        v = self.greedy if values is None else values
        return v / self.total_weight if self.total_weight else np.zeros_like(v)


def elbow_of(values: np.ndarray) -> int:
    """Index of the point farthest above the chord from the first to the last value (Kneedle)."""
    v = np.asarray(values, dtype=np.float64)
    n = len(v) - 1
    if n < 2 or v[-1] == v[0]:
        return 0 if n < 1 or v[-1] == v[0] else n
    norm = (v - v[0]) / (v[-1] - v[0])
    return int(np.argmax(norm - np.arange(n + 1) / n))


def checked_demand(weights, candidate_ids, *, n_dem: int, n_cand: int, rows: str) -> tuple[np.ndarray, np.ndarray]:
    """The weights (finite, non-negative, one per demand point) and candidate ids (one per candidate) as
    arrays, or ValueError naming what does not fit."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (n_dem,):
        msg = f"weights must have one value per demand point ({n_dem}), got shape {weights.shape}"
        raise ValueError(msg)
    if np.any(weights < 0) or not np.all(np.isfinite(weights)):
        msg = "weights must be finite and non-negative"
        raise ValueError(msg)
    ids = np.asarray(candidate_ids, dtype=object)
    if len(ids) != n_cand:
        msg = f"{len(ids)} candidate ids for {n_cand} {rows}"
        raise ValueError(msg)
    return weights, ids


class SitingProblem:
    """Coverage matrix + weights, reduced once; solve many times."""

    def __init__(self, coverage: sparse.spmatrix, weights: np.ndarray, *, candidate_ids,
                 covered_now: np.ndarray | None = None, costs: np.ndarray | None = None,
                 labels: np.ndarray | None = None, reduce: bool = True) -> None:
        """``costs``: per candidate (default 1 each, used by the budget model); ``labels``: a small integer per
        demand point that floors refer to (a township's index, rural or urban, …); ``reduce=False`` keeps the
        model as given (for comparison only): every demand point and candidate stays, covered demand is free."""
        coverage = sparse.csr_matrix(coverage, dtype=bool)
        n_cand, n_dem = coverage.shape
        weights, ids = checked_demand(weights, candidate_ids, n_dem=n_dem, n_cand=n_cand, rows="matrix rows")
        costs = np.ones(n_cand) if costs is None else np.asarray(costs, dtype=np.float64)
        if costs.shape != (n_cand,) or np.any(costs < 0) or not np.all(np.isfinite(costs)):
            msg = f"costs must be {n_cand} finite non-negative values, one per candidate"
            raise ValueError(msg)
        labels = np.zeros(n_dem, dtype=np.int64) if labels is None else np.asarray(labels, dtype=np.int64)
        if labels.shape != (n_dem,) or (n_dem and labels.min() < 0):
            msg = f"labels must be {n_dem} non-negative integers, one per demand point"
            raise ValueError(msg)
        covered_now = np.zeros(n_dem, dtype=bool) if covered_now is None else np.asarray(covered_now, dtype=bool)
        self.candidate_ids = ids
        self.total_weight = float(weights.sum())
        self.base_weight = float(weights[covered_now].sum())
        n_labels = int(labels.max()) + 1 if n_dem else 1
        self.label_total = np.bincount(labels, weights=weights, minlength=n_labels)
        self.label_base = np.bincount(labels[covered_now], weights=weights[covered_now], minlength=n_labels)

        if not reduce:
            self.base_weight = 0.0
            self.label_base = np.zeros(n_labels)
            self.free = covered_now.copy()  # covered whatever is chosen
            self.kept = np.arange(n_cand)
            self.matrix = coverage.astype(np.float64).tocsr()
            self.matrix_csc = self.matrix.tocsc()
            self.weights = weights.copy()
            self.group_label = labels.copy()
            self.costs = costs.copy()
            self.reductions = Reductions(demand_in=n_dem, demand_kept=n_dem, candidates_in=n_cand,
                                         candidates_kept=n_cand)
            return
        reachable = np.asarray(coverage.sum(axis=0)).ravel() > 0
        keep = reachable & ~covered_now & (weights > 0)
        sub = coverage[:, keep].tocsc()
        w = weights[keep]
        lab = labels[keep]
        # merge demand columns with identical candidate sets and the same label
        groups: dict[bytes, int] = {}
        col_group = np.empty(sub.shape[1], dtype=np.int64)
        for c in range(sub.shape[1]):
            key = lab[c:c + 1].tobytes() + sub.indices[sub.indptr[c]:sub.indptr[c + 1]].tobytes()
            col_group[c] = groups.setdefault(key, len(groups))
        n_groups = len(groups)
        self.free = np.zeros(n_groups, dtype=bool)
        self.group_label = np.zeros(n_groups, dtype=np.int64)
        self.group_label[col_group] = lab
        merge = sparse.csr_matrix((np.ones(len(col_group)), (np.arange(len(col_group)), col_group)),
                                  shape=(len(col_group), n_groups))
        matrix = (sub.astype(np.float64) @ merge).tocsr()
        matrix.data[:] = 1.0
        self.weights = np.bincount(col_group, weights=w, minlength=n_groups)
        # remove empty candidates, and those whose set lies inside another's that costs no more
        size = np.asarray(matrix.sum(axis=1)).ravel()
        overlap = (matrix @ matrix.T).tocoo()
        dominated = np.zeros(n_cand, dtype=bool)
        a, b, cnt = overlap.row, overlap.col, overlap.data
        inside = ((a != b) & (cnt == size[a]) & (costs[b] <= costs[a])
                  & ((size[b] > size[a]) | (costs[b] < costs[a]) | ((size[b] == size[a]) & (b < a))))
        dominated[a[inside]] = True
        self.kept = np.flatnonzero((size > 0) & ~dominated)
        self.matrix = matrix[self.kept].tocsr()  # kept candidates × merged demand
        self.matrix_csc = self.matrix.tocsc()
        self.costs = costs[self.kept]
        self.reductions = Reductions(
            demand_in=n_dem, demand_kept=n_groups, candidates_in=n_cand, candidates_kept=len(self.kept)
        )

    # ---- helpers -------------------------------------------------------
    def _result(self, method, status, picks, covered, bound, started, message="", **extra) -> SitingResult:
        objective = self.base_weight + covered
        full_bound = None if bound is None else self.base_weight + bound
        gap = None if full_bound is None or full_bound <= 0 else max(0.0, (full_bound - objective) / full_bound)
        picks = np.sort(np.asarray(picks, dtype=np.int64))
        chosen = tuple(self.candidate_ids[self.kept[picks]].tolist()) if len(picks) else ()
        if "cost" not in extra and len(picks):
            extra["cost"] = float(self.costs[picks].sum())
        return SitingResult(method=method, status=status, chosen=chosen, objective=float(objective),
                            bound=full_bound, gap=gap, total_weight=self.total_weight,
                            solve_s=time.perf_counter() - started, reductions=self.reductions, message=message,
                            **extra)

    def _hit(self, picks: np.ndarray) -> np.ndarray:
        hit = self.free.copy()
        if len(picks):
            hit |= np.asarray(self.matrix[np.asarray(picks, dtype=np.int64)].sum(axis=0)).ravel() > 0
        return hit

    def _covered_weight(self, picks: np.ndarray) -> float:
        return float(self.weights[self._hit(picks)].sum())

    def _floor_masks(self, floors) -> list[np.ndarray]:
        return [np.isin(self.group_label, list(f.labels)) for f in floors]

    def _floor_weight(self, f: Floor) -> tuple[float, float]:
        """(all weight, weight covered now) of the demand under floor ``f``."""
        labels = [lab for lab in f.labels if lab < len(self.label_total)]
        return float(self.label_total[labels].sum()), float(self.label_base[labels].sum())

    def _floor_need(self, f: Floor) -> float:
        """Weight the new sites must add to bring floor ``f`` to its share."""
        total, base = self._floor_weight(f)
        return f.share * total - base

    def _floor_shares(self, floors, picks) -> tuple:
        hit = self._hit(picks)
        out = []
        for f, mask in zip(floors, self._floor_masks(floors), strict=True):
            total, base = self._floor_weight(f)
            got = base + float(self.weights[hit & mask].sum())
            out.append((f.name, got / total if total else 1.0, f.share))
        return tuple(out)

    def _greedy(self, k: int, *, swap_seconds: float, focus=None, costs=None, budget=None) -> np.ndarray:
        """Greedy picks (then 1-swaps when no focus or budget is given).

        ``focus()``: a callable returning a 0/1 weight mask per group to prefer (the groups of unmet floors),
        consulted each step until it is all zero; ``costs`` and ``budget``: pick by gain per cost among the
        affordable candidates until nothing fits.
        """
        m, mt = self.matrix, self.matrix_csc
        n = m.shape[0]
        k = min(k, n)
        count = self.free.astype(np.int64)  # how many chosen sites (or existing ones) cover each demand group
        gain = m @ self.weights
        chosen = np.zeros(n, dtype=bool)
        picks: list[int] = []
        left = None if budget is None else float(budget)
        while len(picks) < k:
            score = np.where(chosen, -1.0, gain)
            if focus is not None:
                mask = focus(count > 0)
                if mask.any():
                    score = np.where(chosen, -1.0, m @ (self.weights * mask * (count == 0)))
            if left is not None:
                score = np.where(costs <= left + 1e-9, score / np.maximum(costs, 1e-12), -1.0)
            j = int(np.argmax(score))
            if score[j] <= 0 or gain[j] <= 0:
                break
            picks.append(j)
            chosen[j] = True
            if left is not None:
                left -= costs[j]
            cols = m.indices[m.indptr[j]:m.indptr[j + 1]]
            fresh = cols[count[cols] == 0]
            count[cols] += 1
            for i in fresh:  # those groups no longer add to any candidate's gain
                rows = mt.indices[mt.indptr[i]:mt.indptr[i + 1]]
                gain[rows] -= self.weights[i]
        picks = np.array(picks, dtype=np.int64)
        if focus is not None or budget is not None:
            return picks
        return self._swap(picks, count, swap_seconds)

    def _swap(self, picks: np.ndarray, count: np.ndarray, seconds: float) -> np.ndarray:
        """Best-improvement 1-swaps until none improves or time runs out."""
        m = self.matrix
        deadline = time.perf_counter() + seconds
        picks = picks.copy()
        while len(picks) and time.perf_counter() < deadline:
            open_gain = m @ (self.weights * (count == 0))  # adding c with nothing removed
            best = (1e-9, -1, -1)
            for slot, s in enumerate(picks):
                cols = m.indices[m.indptr[s]:m.indptr[s + 1]]
                unique = cols[count[cols] == 1]
                loss = self.weights[unique].sum()
                u = np.zeros(m.shape[1])
                u[unique] = self.weights[unique]
                value = open_gain + m @ u - loss
                value[picks] = -np.inf
                c = int(np.argmax(value))
                if value[c] > best[0]:
                    best = (float(value[c]), slot, c)
            if best[1] < 0:
                break
            slot, c = best[1], best[2]
            s = picks[slot]
            count[m.indices[m.indptr[s]:m.indptr[s + 1]]] -= 1
            count[m.indices[m.indptr[c]:m.indptr[c + 1]]] += 1
            picks[slot] = c
        return picks

    def _model(self, *, maximise: bool, x_cost, y_cost) -> tuple[Model, np.ndarray, np.ndarray]:
        """The coverage model's columns (x: sites, y: groups covered) and its rows y_i <= sum x_j (+ free)."""
        model = Model(maximise=maximise)
        n_x, n_y = self.matrix.shape
        x = model.add_cols(x_cost, integer=True)
        y = model.add_cols(y_cost)
        csc = self.matrix_csc
        length = np.diff(csc.indptr) + 1
        indptr = np.zeros(n_y + 1, dtype=np.int64)
        np.cumsum(length, out=indptr[1:])
        first = np.zeros(int(indptr[-1]), dtype=bool)
        first[indptr[:-1]] = True
        indices = np.empty(int(indptr[-1]), dtype=np.int64)
        values = np.empty(int(indptr[-1]))
        indices[first], values[first] = y, 1.0
        indices[~first], values[~first] = x[csc.indices], -1.0
        model.add_rows(indptr, indices, values, upper=self.free.astype(float))
        return model, x, y

    def _start(self, picks: np.ndarray, n_extra: int = 0, extra=()) -> np.ndarray:
        n_x, _ = self.matrix.shape
        x = np.zeros(n_x)
        x[picks] = 1.0
        return np.concatenate([x, self._hit(picks).astype(float), np.asarray(extra, dtype=float)[:n_extra]])

    def _picks(self, out) -> np.ndarray:
        return np.flatnonzero(out.x[: self.matrix.shape[0]] > 0.5)

    def _lp_bound(self, k: int) -> float:
        model, x, _ = self._model(maximise=True, x_cost=np.zeros(self.matrix.shape[0]), y_cost=self.weights)
        model.add_row(x, np.ones(len(x)), upper=float(k))
        return model.solve(time_limit_s=60, integer=False).objective

    def _trivial(self, k, started, model, **extra) -> SitingResult | None:
        if self.matrix.shape[0] == 0 or k == 0 or self.matrix.shape[1] == 0:
            return self._result("exact", "optimal", np.zeros(0, dtype=np.int64), 0.0, 0.0, started,
                                "nothing to gain: no candidate reaches uncovered demand" if k else "", model=model,
                                **extra)
        return None

    @staticmethod
    def _check_k(k: int) -> None:
        if k < 0:
            msg = f"k must be a non-negative number of sites, got {k}"
            raise ValueError(msg)

    # ---- public --------------------------------------------------------
    def solve_greedy(self, k: int, *, swap_seconds: float = 0.05, with_bound: bool = True) -> SitingResult:
        """Greedy + 1-swap for k new sites; the gap is measured against the LP bound."""
        started = time.perf_counter()
        picks = self._greedy(k, swap_seconds=swap_seconds)
        covered = self._covered_weight(picks)
        bound = self._lp_bound(k) if with_bound and self.matrix.shape[0] else None
        return self._result("greedy", "heuristic", picks, covered, bound, started)

    def solve_mclp(self, k: int, *, time_limit_s: float = 60.0) -> SitingResult:
        """The k new sites that maximise covered weight, to proven optimality within the time limit."""
        self._check_k(k)
        started = time.perf_counter()
        if (done := self._trivial(k, started, "mclp")) is not None:
            return done
        start = self._greedy(k, swap_seconds=0.02)
        model, x, _ = self._model(maximise=True, x_cost=np.zeros(self.matrix.shape[0]), y_cost=self.weights)
        model.add_row(x, np.ones(len(x)), upper=float(k))
        out = model.solve(time_limit_s=time_limit_s, start=self._start(start))
        return self._finish(out, started, time_limit_s, "mclp")

    def _finish(self, out, started, time_limit_s, model_name, **extra) -> SitingResult:
        picks = self._picks(out)
        covered = self._covered_weight(picks)
        if out.status == "optimal":
            return self._result("exact", "optimal", picks, covered, max(out.bound, covered), started,
                                model=model_name, **extra)
        return self._result("exact", "time_limit", picks, covered, out.bound, started,
                            f"time limit {time_limit_s:g} s reached; best found returned", model=model_name, **extra)

    def solve_lscp(self, target_share: float, *, time_limit_s: float = 60.0) -> SitingResult:
        """The fewest new sites reaching ``target_share`` of the total weight."""
        if not 0.0 < target_share <= 1.0:
            msg = f"target_share must be in (0, 1], got {target_share}"
            raise ValueError(msg)
        started = time.perf_counter()
        need = target_share * self.total_weight - self.base_weight
        none = np.zeros(0, dtype=np.int64)
        if need <= 1e-9:
            return self._result("exact", "optimal", none, 0.0, None, started, "already reached by existing facilities",
                                model="lscp")
        best = float(self.weights.sum())
        if need > best + 1e-9:
            reach = (self.base_weight + best) / self.total_weight
            return self._result("exact", "infeasible", none, 0.0, None, started,
                                f"target {target_share:.1%} cannot be reached with these candidates; "
                                f"the most they reach is {reach:.1%}", model="lscp")
        model, _, y = self._model(maximise=False, x_cost=np.ones(self.matrix.shape[0]), y_cost=np.zeros(len(self.weights)))
        model.add_row(y, self.weights, lower=need - 1e-9)
        out = model.solve(time_limit_s=time_limit_s)
        picks = self._picks(out)
        covered = self._covered_weight(picks)
        state = "optimal" if out.status == "optimal" else "time_limit"
        return self._result("exact", state, picks, covered, None, started,
                            f"{len(picks)} new sites reach {(self.base_weight + covered) / self.total_weight:.1%}",
                            model="lscp")

    def solve_budget(self, budget: float, *, method: str = "exact", time_limit_s: float = 60.0) -> SitingResult:
        """The new sites whose costs fit ``budget`` and cover the most weight.

        The heuristic picks by covered weight per cost among what still fits, and keeps the best single
        affordable site instead when that alone covers more (the classic guard of cost-benefit greedy).
        """
        if not np.isfinite(budget) or budget < 0:
            msg = f"budget must be a non-negative amount, got {budget}"
            raise ValueError(msg)
        started = time.perf_counter()
        n = self.matrix.shape[0]
        affordable = self.costs <= budget + 1e-9
        if n == 0 or self.matrix.shape[1] == 0 or not affordable.any():
            why = "no candidate fits the budget" if n and not affordable.any() else "nothing to gain"
            return self._result("exact", "optimal", np.zeros(0, dtype=np.int64), 0.0, 0.0, started, why,
                                model="budget", cost=0.0)
        picks = self._greedy(n, swap_seconds=0, costs=self.costs, budget=budget)
        gain = self.matrix @ self.weights
        single = int(np.argmax(np.where(affordable, gain, -1.0)))
        if gain[single] > self._covered_weight(picks) - float(self.weights[self.free].sum()):
            picks = np.array([single])
        if method == "greedy":
            return self._result("greedy", "heuristic", picks, self._covered_weight(picks), None, started, model="budget")
        model, x, _ = self._model(maximise=True, x_cost=np.zeros(n), y_cost=self.weights)
        model.add_row(x, self.costs, upper=float(budget))
        out = model.solve(time_limit_s=time_limit_s, start=self._start(picks))
        return self._finish(out, started, time_limit_s, "budget")

    def solve_equity(self, k: int, floors: list[Floor], *, maximin: bool = False, method: str = "exact",
                     time_limit_s: float = 60.0) -> SitingResult:
        """The most covered weight with k new sites while every floor reaches its share.

        ``maximin=True``: the floors' shares are ignored; the lowest floor share is raised as far as k sites
        can, then the covered weight is maximised at that level. An instance that cannot meet its floors is
        reported ``infeasible`` with the floors that cannot be met and why.
        """
        self._check_k(k)
        started = time.perf_counter()
        floors = list(floors)
        masks = self._floor_masks(floors)
        if not maximin:
            short = []
            for f, mask in zip(floors, masks, strict=True):
                need = self._floor_need(f)
                reach = float(self.weights[mask].sum())
                if need > reach + 1e-9:
                    total, base = self._floor_weight(f)
                    most = (base + reach) / total if total else 1.0
                    short.append(f"{f.name} 最多可达 {most:.1%}，低于下限 {f.share:.0%}（候选点覆盖不到足够老人）")
            if short:
                return self._result("exact", "infeasible", np.zeros(0, dtype=np.int64), 0.0, None, started,
                                    "；".join(short), model="equity", floor_shares=self._floor_shares(floors, []))

        def unmet(hit: np.ndarray) -> np.ndarray:
            mask = np.zeros(len(self.weights))
            for f, fm in zip(floors, masks, strict=True):
                if float(self.weights[hit & fm].sum()) < self._floor_need(f) - 1e-9:
                    mask[fm] = 1.0
            return mask

        n = self.matrix.shape[0]
        picks = self._greedy(k, swap_seconds=0, focus=unmet) if n and k else np.zeros(0, dtype=np.int64)
        if len(picks) < k and n:  # floors met early: fill the rest for coverage
            rest = [p for p in self._greedy(k, swap_seconds=0) if p not in set(picks.tolist())]
            picks = np.unique(np.r_[picks, np.asarray(rest[: k - len(picks)], dtype=np.int64)]).astype(np.int64)
        if method == "greedy":
            shares = self._floor_shares(floors, picks)
            met = all(s >= f - 1e-9 for _, s, f in shares)
            return self._result("greedy", "heuristic", picks, self._covered_weight(picks), None, started,
                                "" if met or maximin else "快速方法未能满足全部下限，请用精确求解", model="equity",
                                floor_shares=shares)
        if n == 0 or self.matrix.shape[1] == 0:
            return self._result("exact", "optimal", np.zeros(0, dtype=np.int64), 0.0, 0.0, started, model="equity",
                                floor_shares=self._floor_shares(floors, []))
        if maximin:
            return self._maximin(k, floors, masks, picks, started, time_limit_s)
        model, x, y = self._model(maximise=True, x_cost=np.zeros(n), y_cost=self.weights)
        model.add_row(x, np.ones(n), upper=float(k))
        for f, mask in zip(floors, masks, strict=True):
            need = self._floor_need(f)
            if need > 1e-9:
                model.add_row(y[mask], self.weights[mask], lower=need - 1e-7)
        start = self._start(picks) if all(s >= fl - 1e-9 for _, s, fl in self._floor_shares(floors, picks)) else None
        out = model.solve(time_limit_s=time_limit_s, start=start)
        if out.status == "infeasible":
            return self._result("exact", "infeasible", np.zeros(0, dtype=np.int64), 0.0, None, started,
                                self._why_infeasible(k, floors, masks, time_limit_s), model="equity",
                                floor_shares=self._floor_shares(floors, []))
        return self._finish(out, started, time_limit_s, "equity", floor_shares=self._floor_shares(floors, self._picks(out)))

    def _why_infeasible(self, k, floors, masks, time_limit_s) -> str:
        """Name the floors that alone need more than k new sites (each its own fewest-sites model)."""
        alone = []
        n = self.matrix.shape[0]
        for f, mask in zip(floors, masks, strict=True):
            need = self._floor_need(f)
            if need <= 1e-9:
                continue
            model, _, y = self._model(maximise=False, x_cost=np.ones(n), y_cost=np.zeros(len(self.weights)))
            model.add_row(y[mask], self.weights[mask], lower=need - 1e-7)
            out = model.solve(time_limit_s=time_limit_s)
            sites = int(round(out.objective)) if out.status != "infeasible" else None
            if sites is not None and sites > k:
                alone.append(f"{f.name} 单独就需新增 {sites} 个站点")
        if alone:
            return f"新增 {k} 个站点无法满足全部下限：" + "；".join(alone)
        return f"新增 {k} 个站点无法同时满足全部下限（每个单独都可满足，合起来站点不够）"

    def _maximin(self, k, floors, masks, picks, started, time_limit_s) -> SitingResult:
        n = self.matrix.shape[0]
        totals, bases = zip(*(self._floor_weight(f) for f in floors), strict=True) if floors else ((), ())

        def build(t_cost):
            model, x, y = self._model(maximise=True, x_cost=np.zeros(n), y_cost=self.weights * (0 if t_cost else 1))
            t = model.add_cols([t_cost or 0.0], lower=0.0, upper=1.0)
            model.add_row(x, np.ones(n), upper=float(k))
            for mask, total, base in zip(masks, totals, bases, strict=True):
                if total > 0:  # (base + sum w y) / total >= t
                    model.add_row(np.r_[y[mask], t], np.r_[self.weights[mask] / total, -1.0], lower=-base / total)
            return model, t

        low = min(s for _, s, _ in self._floor_shares(floors, picks)) if floors else 1.0
        model, t = build(1.0)
        out = model.solve(time_limit_s=time_limit_s / 2, start=self._start(picks, 1, [low]))
        level = float(out.x[t[0]])
        model, t = build(0.0)
        model.add_row(t, [1.0], lower=level - 1e-7)
        second = model.solve(time_limit_s=time_limit_s / 2, start=np.r_[out.x[:-1], level])
        shares = self._floor_shares(floors, self._picks(second))
        res = self._finish(second, started, time_limit_s, "equity", floor_shares=shares)
        lowest = min(shares, key=lambda s: s[1]) if shares else None
        note = f"最低为 {lowest[0]}：{lowest[1]:.1%}" if lowest else ""
        if out.status != "optimal":
            note += "（最低份额未证明最优：已到限时）"
        return replace(res, message=(res.message + " " + note).strip())

    def curve(self, max_k: int, *, exact_at=(), time_limit_s: float = 30.0) -> CoverageCurve:
        """Covered weight for k = 0 … ``max_k`` new sites: the greedy's first k picks at every k (one run,
        nested), the exact optimum at the ks in ``exact_at``; the elbow is found on the greedy curve."""
        self._check_k(max_k)
        started = time.perf_counter()
        picks = self._greedy(max_k, swap_seconds=0, focus=None, costs=None, budget=None) if max_k else []
        values = np.full(max_k + 1, self.base_weight + float(self.weights[self.free].sum()))
        hit = self.free.copy()
        for i, p in enumerate(picks, start=1):
            cols = self.matrix.indices[self.matrix.indptr[p]:self.matrix.indptr[p + 1]]
            hit[cols] = True
            values[i] = self.base_weight + float(self.weights[hit].sum())
        values[len(picks) + 1:] = values[len(picks)]
        exact = {int(k): self.solve_mclp(int(k), time_limit_s=time_limit_s) for k in sorted(set(exact_at))
                 if 0 < int(k) <= max_k}
        return CoverageCurve(k=np.arange(max_k + 1), greedy=values, exact=exact, total_weight=self.total_weight,
                             elbow=elbow_of(values), solve_s=time.perf_counter() - started)
