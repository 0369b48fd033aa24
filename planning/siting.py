"""Optimal siting of new stations: MCLP (best k sites) and LSCP (fewest sites to a target).

Built spopt-style: a :class:`SitingProblem` is made once from a coverage
matrix (candidate × demand point: can this candidate reach this point within
the walk?), the demand weights and what existing facilities already cover;
``solve_*`` then returns a frozen :class:`SitingResult`.

Before the solver sees it, the model is reduced: demand already covered or
out of every candidate's reach is dropped, demand points with identical
candidate sets are merged (weights summed), and dominated candidates (whose
set lies inside another's) are removed. The MIP goes to HiGHS (highspy) with a
time limit and the greedy answer as a start; the status, objective, bound and
gap are reported. The greedy (+ swap) heuristic answers instantly and reports
its gap to the LP bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
from scipy import sparse


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
    objective: float  # covered weight, existing coverage included
    bound: float | None  # proven upper bound (MCLP) on the objective
    gap: float | None  # (bound - objective) / bound
    total_weight: float
    solve_s: float
    reductions: Reductions
    message: str = ""

    @property
    def share(self) -> float:
        return self.objective / self.total_weight if self.total_weight else 0.0


class SitingProblem:
    """Coverage matrix + weights, reduced once; solve many times."""

    def __init__(self, coverage: sparse.spmatrix, weights: np.ndarray, *, candidate_ids,
                 covered_now: np.ndarray | None = None, reduce: bool = True) -> None:
        """``reduce=False`` keeps the model as given (for comparison only): every
        demand point and candidate stays, and demand covered now is simply free."""
        coverage = sparse.csr_matrix(coverage, dtype=bool)
        weights = np.asarray(weights, dtype=np.float64)
        n_cand, n_dem = coverage.shape
        if weights.shape != (n_dem,):
            msg = f"weights must have one value per demand point ({n_dem}), got shape {weights.shape}"
            raise ValueError(msg)
        if np.any(weights < 0) or not np.all(np.isfinite(weights)):
            msg = "weights must be finite and non-negative"
            raise ValueError(msg)
        ids = np.asarray(candidate_ids, dtype=object)
        if len(ids) != n_cand:
            msg = f"{len(ids)} candidate ids for {n_cand} matrix rows"
            raise ValueError(msg)
        covered_now = np.zeros(n_dem, dtype=bool) if covered_now is None else np.asarray(covered_now, dtype=bool)
        self.candidate_ids = ids
        self.total_weight = float(weights.sum())
        self.base_weight = float(weights[covered_now].sum())

        if not reduce:
            self.base_weight = 0.0
            self.free = covered_now.copy()  # covered whatever is chosen
            self.kept = np.arange(n_cand)
            self.matrix = coverage.astype(np.float64).tocsr()
            self.matrix_csc = self.matrix.tocsc()
            self.weights = weights.copy()
            self.reductions = Reductions(demand_in=n_dem, demand_kept=n_dem, candidates_in=n_cand,
                                         candidates_kept=n_cand)
            return
        reachable = np.asarray(coverage.sum(axis=0)).ravel() > 0
        keep = reachable & ~covered_now & (weights > 0)
        sub = coverage[:, keep].tocsc()
        w = weights[keep]
        # merge demand columns with identical candidate sets
        groups: dict[bytes, int] = {}
        col_group = np.empty(sub.shape[1], dtype=np.int64)
        for c in range(sub.shape[1]):
            key = sub.indices[sub.indptr[c]:sub.indptr[c + 1]].tobytes()
            col_group[c] = groups.setdefault(key, len(groups))
        n_groups = len(groups)
        self.free = np.zeros(n_groups, dtype=bool)
        merge = sparse.csr_matrix((np.ones(len(col_group)), (np.arange(len(col_group)), col_group)),
                                  shape=(len(col_group), n_groups))
        matrix = (sub.astype(np.float64) @ merge).tocsr()
        matrix.data[:] = 1.0
        self.weights = np.bincount(col_group, weights=w, minlength=n_groups)
        # remove empty and dominated candidates
        size = np.asarray(matrix.sum(axis=1)).ravel()
        overlap = (matrix @ matrix.T).tocoo()
        dominated = np.zeros(n_cand, dtype=bool)
        a, b, cnt = overlap.row, overlap.col, overlap.data
        inside = (a != b) & (cnt == size[a]) & ((size[b] > size[a]) | ((size[b] == size[a]) & (b < a)))
        dominated[a[inside]] = True
        self.kept = np.flatnonzero((size > 0) & ~dominated)
        self.matrix = matrix[self.kept].tocsr()  # kept candidates × merged demand
        self.matrix_csc = self.matrix.tocsc()
        self.reductions = Reductions(
            demand_in=n_dem, demand_kept=n_groups, candidates_in=n_cand, candidates_kept=len(self.kept)
        )

    # ---- helpers -------------------------------------------------------
    def _result(self, method, status, picks, covered, bound, started, message="") -> SitingResult:
        objective = self.base_weight + covered
        full_bound = None if bound is None else self.base_weight + bound
        gap = None if full_bound is None or full_bound <= 0 else max(0.0, (full_bound - objective) / full_bound)
        chosen = tuple(self.candidate_ids[self.kept[np.sort(picks)]].tolist()) if len(picks) else ()
        return SitingResult(method=method, status=status, chosen=chosen, objective=float(objective),
                            bound=full_bound, gap=gap, total_weight=self.total_weight,
                            solve_s=time.perf_counter() - started, reductions=self.reductions, message=message)

    def _covered_weight(self, picks: np.ndarray) -> float:
        hit = self.free.copy()
        if len(picks):
            hit |= np.asarray(self.matrix[picks].sum(axis=0)).ravel() > 0
        return float(self.weights[hit].sum())

    def _greedy(self, k: int, *, swap_seconds: float) -> np.ndarray:
        m, mt = self.matrix, self.matrix_csc
        n = m.shape[0]
        k = min(k, n)
        count = self.free.astype(np.int64)  # how many chosen sites (or existing ones) cover each demand group
        gain = m @ self.weights
        chosen = np.zeros(n, dtype=bool)
        picks = []
        for _ in range(k):
            j = int(np.argmax(np.where(chosen, -1.0, gain)))
            if gain[j] <= 0:
                break
            picks.append(j)
            chosen[j] = True
            cols = m.indices[m.indptr[j]:m.indptr[j + 1]]
            fresh = cols[count[cols] == 0]
            count[cols] += 1
            for i in fresh:  # those groups no longer add to any candidate's gain
                rows = mt.indices[mt.indptr[i]:mt.indptr[i + 1]]
                gain[rows] -= self.weights[i]
        picks = np.array(picks, dtype=np.int64)
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

    def _highs(self, *, k: int | None, need: float | None, integer: bool, time_limit_s: float,
               start: np.ndarray | None):
        """MCLP (k given) or LSCP (need given) in HiGHS; returns (highs, n_sites)."""
        m = self.matrix_csc  # columns = demand groups
        n_x, n_y = self.matrix.shape
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("time_limit", float(time_limit_s))
        h.setOptionValue("mip_rel_gap", 0.0)
        lp = highspy.HighsLp()
        lp.num_col_ = n_x + n_y
        if k is not None:  # max sum w y
            lp.sense_ = highspy.ObjSense.kMaximize
            lp.col_cost_ = np.concatenate([np.zeros(n_x), self.weights])
        else:  # min sum x
            lp.sense_ = highspy.ObjSense.kMinimize
            lp.col_cost_ = np.concatenate([np.ones(n_x), np.zeros(n_y)])
        lp.col_lower_ = np.zeros(n_x + n_y)
        lp.col_upper_ = np.ones(n_x + n_y)
        # rows: for each demand group i: y_i - sum_{j covers i} x_j <= 0 ; then the budget/target row
        rows_idx = [np.concatenate([[n_x + i], m.indices[m.indptr[i]:m.indptr[i + 1]]]) for i in range(n_y)]
        rows_val = [np.concatenate([[1.0], -np.ones(m.indptr[i + 1] - m.indptr[i])]) for i in range(n_y)]
        if k is not None:
            rows_idx.append(np.arange(n_x))
            rows_val.append(np.ones(n_x))
            row_lower = np.concatenate([np.full(n_y, -np.inf), [-np.inf]])
            row_upper = np.concatenate([self.free.astype(float), [float(k)]])
        else:
            rows_idx.append(n_x + np.arange(n_y))
            rows_val.append(self.weights.copy())
            row_lower = np.concatenate([np.full(n_y, -np.inf), [need]])
            row_upper = np.concatenate([self.free.astype(float), [np.inf]])
        lp.num_row_ = n_y + 1
        lp.row_lower_ = row_lower
        lp.row_upper_ = row_upper
        starts = np.zeros(len(rows_idx) + 1, dtype=np.int32)
        np.cumsum([len(r) for r in rows_idx], out=starts[1:])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = starts
        lp.a_matrix_.index_ = np.concatenate(rows_idx).astype(np.int32)
        lp.a_matrix_.value_ = np.concatenate(rows_val)
        lp.a_matrix_.num_col_ = n_x + n_y
        lp.a_matrix_.num_row_ = n_y + 1
        if integer:
            lp.integrality_ = [highspy.HighsVarType.kInteger] * n_x + [highspy.HighsVarType.kContinuous] * n_y
        h.passModel(lp)
        if start is not None and integer:
            x = np.zeros(n_x + n_y)
            x[start] = 1.0
            hit = self.free.copy()
            if len(start):
                hit |= np.asarray(self.matrix[start].sum(axis=0)).ravel() > 0
            x[n_x:] = hit
            sol = highspy.HighsSolution()
            sol.col_value = list(x)
            h.setSolution(sol)
        h.run()
        return h

    # ---- public --------------------------------------------------------
    def solve_greedy(self, k: int, *, swap_seconds: float = 0.05, with_bound: bool = True) -> SitingResult:
        """Greedy + 1-swap for k new sites; the gap is measured against the LP bound."""
        started = time.perf_counter()
        picks = self._greedy(k, swap_seconds=swap_seconds)
        covered = self._covered_weight(picks)
        bound = None
        if with_bound and self.matrix.shape[0]:
            h = self._highs(k=k, need=None, integer=False, time_limit_s=60, start=None)
            bound = float(h.getInfo().objective_function_value)
        return self._result("greedy", "heuristic", picks, covered, bound, started)

    def solve_mclp(self, k: int, *, time_limit_s: float = 60.0) -> SitingResult:
        """The k new sites that maximise covered weight, to proven optimality within the time limit."""
        if k < 0:
            msg = f"k must be a non-negative number of sites, got {k}"
            raise ValueError(msg)
        started = time.perf_counter()
        if self.matrix.shape[0] == 0 or k == 0 or self.matrix.shape[1] == 0:
            return self._result("exact", "optimal", np.zeros(0, dtype=np.int64), 0.0, 0.0, started,
                                "nothing to gain: no candidate reaches uncovered demand" if k else "")
        start = self._greedy(k, swap_seconds=0.02)
        h = self._highs(k=k, need=None, integer=True, time_limit_s=time_limit_s, start=start)
        status = h.getModelStatus()
        info = h.getInfo()
        x = np.asarray(h.getSolution().col_value[: self.matrix.shape[0]])
        picks = np.flatnonzero(x > 0.5)
        covered = self._covered_weight(picks)
        bound = float(info.mip_dual_bound)
        if status == highspy.HighsModelStatus.kOptimal:
            # a dual bound a hair below the objective is solver tolerance, not information
            return self._result("exact", "optimal", picks, covered, max(bound, covered), started)
        if status == highspy.HighsModelStatus.kTimeLimit:
            return self._result("exact", "time_limit", picks, covered, bound, started,
                                f"time limit {time_limit_s:g} s reached; best found returned")
        msg = f"HiGHS ended with status {h.modelStatusToString(status)}"
        raise RuntimeError(msg)

    def solve_lscp(self, target_share: float, *, time_limit_s: float = 60.0) -> SitingResult:
        """The fewest new sites reaching ``target_share`` of the total weight."""
        if not 0.0 < target_share <= 1.0:
            msg = f"target_share must be in (0, 1], got {target_share}"
            raise ValueError(msg)
        started = time.perf_counter()
        need = target_share * self.total_weight - self.base_weight
        if need <= 1e-9:
            return self._result("exact", "optimal", np.zeros(0, dtype=np.int64), 0.0, None, started,
                                "already reached by existing facilities")
        best = float(self.weights.sum())
        if need > best + 1e-9:
            reach = (self.base_weight + best) / self.total_weight
            return self._result("exact", "infeasible", np.zeros(0, dtype=np.int64), 0.0, None, started,
                                f"target {target_share:.1%} cannot be reached with these candidates; "
                                f"the most they reach is {reach:.1%}")
        h = self._highs(k=None, need=need - 1e-9, integer=True, time_limit_s=time_limit_s, start=None)
        status = h.getModelStatus()
        x = np.asarray(h.getSolution().col_value[: self.matrix.shape[0]])
        picks = np.flatnonzero(x > 0.5)
        covered = self._covered_weight(picks)
        state = "optimal" if status == highspy.HighsModelStatus.kOptimal else "time_limit"
        return self._result("exact", state, picks, covered, None, started,
                            f"{len(picks)} new sites reach {(self.base_weight + covered) / self.total_weight:.1%}")
