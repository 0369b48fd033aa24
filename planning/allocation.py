"""Siting on walking distances and capacities: capacitated maximal coverage and p-median.

Both start from :class:`geo.reach.WalkPairs` — every (site, elder point)
pair within the walking limit and its walk in metres — for the candidates
and for the existing facilities, which stay open:

- **capacitated MCLP** (``solve_capacitated(k)``): each site serves at most
  its capacity (elders; beds for institutions); choose k new sites so that
  the most weight is *served*, each elder by a site within the walk that has
  room. Fractional service of a point is allowed (a point is a building or a
  compound of many elders).
- **p-median** (``solve_pmedian(k)``): choose k new sites minimising the total
  weighted walk to the nearest open site, an elder beyond the limit counting
  at ``penalty_m``.

:func:`served_within_capacity` is the served measure shown on the map: each
elder assigned to the nearest facility with room (pairs taken shortest walk
first), within the walking limit.

Reductions before HiGHS: points nobody reaches (or of zero weight) are
dropped and points with identical reach (capacitated: the same site set;
p-median: the same sites at the same savings) merged; p-median keeps only
the pairs that beat a point's current walk. Each model has a fast heuristic
(lazy greedy; p-median adds drop-add swaps) that also seeds the MIP.
"""

from __future__ import annotations

import heapq
import time

import numpy as np
from numba import njit

from geo.reach import WalkPairs
from planning.mip import Model, csr_from_groups
from planning.siting import Reductions, SitingResult, checked_demand


@njit(cache=True)
def _assign_nearest(order, site, point, weight_left, room, flow):
    """Walk the pairs shortest first; each gives its point as much of the site's room as it needs."""
    for q in order:
        s = site[q]
        p = point[q]
        take = min(weight_left[p], room[s])
        if take > 0:
            weight_left[p] -= take
            room[s] -= take
            flow[q] = take


def weight_per_person(weights: np.ndarray, people: np.ndarray) -> np.ndarray:
    """Each demand point's weight per person (0 where nobody lives): what one served elder brings."""
    return np.divide(weights, people, out=np.zeros_like(weights, dtype=np.float64), where=people > 0)


def served_within_capacity(pairs: WalkPairs, weights: np.ndarray, capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(served weight per point, load per site): every point goes to the nearest site with room, nearest pairs
    first, splitting across sites when one fills up."""
    weights = np.asarray(weights, dtype=np.float64)
    capacity = np.asarray(capacity, dtype=np.float64)
    if capacity.shape != (pairs.n_sites,):
        msg = f"capacity must have one value per site ({pairs.n_sites}), got shape {capacity.shape}"
        raise ValueError(msg)
    left = weights.copy()
    room = capacity.copy()
    flow = np.zeros(len(pairs.site))
    _assign_nearest(np.argsort(pairs.metres, kind="stable"), pairs.site, pairs.point, left, room, flow)
    return weights - left, np.bincount(pairs.site, weights=flow, minlength=pairs.n_sites)  # no inf − inf


def _heaviest_within(site: np.ndarray, people: np.ndarray, per_person: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Per site, the most weight it could serve: its pairs' people taken heaviest per person first, up to its
    capacity (a bound: what it is actually given is never more)."""
    order = np.lexsort((-per_person, site))
    s, p, v = site[order], people[order], per_person[order]
    start = np.searchsorted(s, np.arange(len(capacity)))
    before = np.cumsum(p) - p - np.repeat(np.r_[0.0, np.cumsum(p)][start], np.diff(np.r_[start, len(s)]))
    taken = np.minimum(p, np.maximum(0.0, capacity[s] - before))
    return np.bincount(s, weights=taken * v, minlength=len(capacity))


def _runs(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the runs of equal values in a sorted array."""
    if len(sorted_values) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    return starts, np.r_[starts[1:], len(sorted_values)]


def _check_capacity(name: str, capacity, n: int) -> np.ndarray:
    capacity = np.broadcast_to(np.asarray(capacity, dtype=np.float64), (n,)).copy()
    if np.any(np.isnan(capacity)) or np.any(capacity < 0):
        msg = f"{name} must be non-negative numbers, inf for no limit (one per site, or one for all)"
        raise ValueError(msg)
    return capacity


MAX_LINKED_PAIRS = 300_000


class _PMedianLagrange:
    """p-median as "most weighted saving": a Lagrangian bound over every candidate, reduction tests, then an
    exact MIP on the candidates that survive (after Beasley's Lagrangian method for the p-median).

    Relaxing each group's "served once" row with u_g ≥ 0 gives, for any u, the upper bound
    L(u) = Σ_g u_g + (sum of the k largest site values), a site's value being Σ_g max(0, w_g·s_gj − u_g).
    The multipliers come from minimising a smoothed L (softplus for each max, the top-k sum as
    min_μ kμ + Σ_j (value_j − μ)⁺) with L-BFGS-B at a falling temperature: far closer to the LP bound than
    subgradient steps in the same time. Any u gives a valid bound: the true L is evaluated at the end.
    The relaxation's top k sites, improved by best-improvement swaps, are the incumbent.
    Reduction: a choice containing site j is worth at most L_j(u) (j's value plus the k−1 largest others) and
    one without a top site i at most L(u) − value_i + the (k+1)-th value; j below the incumbent is dropped, i
    below it is in every optimum and fixed open. The compact MIP (z_gj ≤ x_j, Σ_j z_gj ≤ 1, Σ x ≤ k) on the
    survivors is then optimal over all candidates.
    """

    def __init__(self, site, group, saving, weight, n_sites) -> None:
        self.site, self.group, self.saving, self.weight = site, group, saving, weight
        self.n_sites, self.n_groups = n_sites, len(weight)
        self.value = weight[group] * saving  # each pair's weighted saving

    def _lagrange(self, u: np.ndarray, k: int):
        site_value = np.bincount(self.site, weights=np.maximum(0.0, self.value - u[self.group]),
                                 minlength=self.n_sites)
        top = np.argpartition(-site_value, k - 1)[:k] if k < self.n_sites else np.arange(self.n_sites)
        return float(u.sum() + site_value[top].sum()), site_value, top

    def group_saving(self, sites) -> np.ndarray:
        """Each group's weighted saving with these sites open."""
        open_ = np.zeros(self.n_sites, dtype=bool)
        open_[np.asarray(sites, dtype=np.int64)] = True
        out = np.zeros(self.n_groups)
        mask = open_[self.site]
        np.maximum.at(out, self.group[mask], self.value[mask])
        return out

    def true_saving(self, sites) -> float:
        return float(self.group_saving(sites).sum())

    def _smoothed(self, xv: np.ndarray, k: int, tau: float):
        """The smoothed L at (u, μ) and its gradient."""
        g_n, v = self.n_groups, self.value
        u, mu = xv[:g_n], xv[g_n]

        def softplus(x):
            z = x / tau
            return (np.where(z > 30, x, tau * np.log1p(np.exp(np.minimum(z, 30)))),
                    1.0 / (1.0 + np.exp(-np.clip(z, -60, 60))))

        a, da = softplus(v - u[self.group])
        b, db = softplus(np.bincount(self.site, weights=a, minlength=self.n_sites) - mu)
        grad_u = 1.0 - np.bincount(self.group, weights=db[self.site] * da, minlength=g_n)
        return float(u.sum() + k * mu + b.sum()), np.r_[grad_u, k - db.sum()]

    def dual(self, k: int, start_sites, *, seconds: float):
        """Multipliers from the smoothed dual, started at each group's saving under ``start_sites``; yields
        (u, L(u), the relaxation's top k sites) after each temperature, the last within ``seconds``."""
        from scipy.optimize import minimize

        u = self.group_saving(start_sites)
        xv = np.r_[u, np.sort(self._lagrange(u, k)[1])[::-1][k - 1]]  # μ at the k-th site value
        scale = float(np.median(self.value)) if len(self.value) else 1.0
        deadline = time.perf_counter() + seconds
        for factor, iterations in ((0.1, 200), (0.01, 150), (0.001, 20)):
            if time.perf_counter() >= deadline:
                return
            res = minimize(self._smoothed, xv, args=(k, scale * factor), jac=True, method="L-BFGS-B",
                           bounds=[(0.0, None)] * len(xv), options={"maxiter": iterations})
            xv = res.x
            bound, _, top = self._lagrange(xv[:self.n_groups], k)
            yield xv[:self.n_groups], bound, top

    def swaps(self, sites, *, seconds: float) -> np.ndarray:
        """Best-improvement swaps (one open site out, one candidate in) until none improves or time is up. The
        gain of every swap at once: each group's best and second-best open saving give what removing a site
        loses and what adding one wins."""
        open_ = np.zeros(self.n_sites, dtype=bool)
        open_[np.asarray(sites, dtype=np.int64)] = True
        v, g_of, s_of, g_n = self.value, self.group, self.site, self.n_groups
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline and open_.any() and not open_.all():
            q = np.flatnonzero(open_[s_of])
            q = q[np.lexsort((-v[q], g_of[q]))]
            g = g_of[q]
            first = np.r_[True, g[1:] != g[:-1]]
            second = np.r_[False, (g[1:] == g[:-1]) & first[:-1]]
            best1, best2, at = np.zeros(g_n), np.zeros(g_n), np.full(g_n, -1)
            best1[g[first]], at[g[first]] = v[q[first]], s_of[q[first]]
            best2[g[second]] = v[q[second]]
            opened = np.flatnonzero(open_)
            pos = np.full(self.n_sites, -1)
            pos[opened] = np.arange(len(opened))
            add = np.bincount(s_of, weights=np.maximum(0.0, v - best1[g_of]), minlength=self.n_sites)
            has = at >= 0
            loss = np.bincount(pos[at[has]], weights=(best1 - best2)[has], minlength=len(opened))
            p = np.flatnonzero(~open_[s_of] & has[g_of])  # a new site's pairs with groups an open site serves
            gp = g_of[p]
            fix = np.maximum(best2[gp], v[p]) - best2[gp] - np.maximum(0.0, v[p] - best1[gp])
            delta = np.zeros((len(opened), self.n_sites))
            np.add.at(delta, (pos[at[gp]], s_of[p]), fix)
            delta += add[None, :] - loss[:, None]
            delta[:, open_] = -np.inf
            i, j = np.unravel_index(int(np.argmax(delta)), delta.shape)
            if delta[i, j] <= 1e-9 * max(1.0, float(best1.sum())):
                break
            open_[opened[i]], open_[j] = False, True
        return np.flatnonzero(open_)

    def solve(self, k: int, start_sites: np.ndarray, *, time_limit_s: float):
        """(chosen sites, their true saving, the proven upper bound, status)."""
        started = time.perf_counter()
        chosen = np.asarray(start_sites, dtype=np.int64)
        saved = self.true_saving(chosen)
        k = min(k, self.n_sites)
        if k == 0 or self.n_groups == 0:
            return chosen, saved, saved, "optimal"
        bound, u = np.inf, None
        for u_t, bound_t, top in self.dual(k, chosen, seconds=min(time_limit_s / 3, 15.0)):
            if bound_t < bound:
                bound, u = bound_t, u_t
            better = self.swaps(top, seconds=1.0)  # the relaxation's sites, improved: often the optimum
            val = self.true_saving(better)
            if val > saved:
                chosen, saved = better, val
        if u is None:
            return chosen, saved, saved, "time_limit"
        tol = 1e-9 * max(1.0, bound)
        if bound - saved <= tol:
            return chosen, saved, max(bound, saved), "optimal"
        _, site_value, _ = self._lagrange(u, k)
        order = np.sort(site_value)[::-1]
        top_k1 = float(order[: k - 1].sum())  # the k-1 largest values
        kth = float(order[k - 1]) if len(order) >= k else 0.0
        next_ = float(order[k]) if len(order) > k else 0.0
        in_top = site_value >= kth
        with_j = u.sum() + site_value + np.where(in_top, top_k1 + kth - site_value, top_k1)
        keep = np.union1d(np.flatnonzero(with_j >= saved - tol), chosen)
        without_i = bound - site_value + next_  # a top site left out: its value gives way to the (k+1)-th
        fixed = np.flatnonzero(in_top & (without_i < saved - tol))
        out = self._mip(keep, k, chosen, time_limit_s - (time.perf_counter() - started), fixed=fixed)
        if out is None:
            return chosen, saved, max(bound, saved), "time_limit"
        mip_sites, status, mip_bound = out
        mip_saved = self.true_saving(mip_sites)
        if mip_saved > saved:
            chosen, saved = mip_sites, mip_saved
        if status == "optimal":  # optimal over the survivors, and no dropped site is in an optimum
            return chosen, saved, saved, "optimal"
        return chosen, saved, max(min(bound, mip_bound), saved), "time_limit"

    def _mip(self, work: np.ndarray, k: int, start_sites: np.ndarray, seconds: float, *, fixed=()):
        """The compact MIP over the sites ``work`` (``fixed`` ones open), started at ``start_sites``."""
        if seconds <= 0:
            return None
        inside = np.zeros(self.n_sites, dtype=bool)
        inside[work] = True
        pairs = np.flatnonzero(inside[self.site])
        x_of = np.full(self.n_sites, -1)
        model = Model(maximise=True)
        x = model.add_cols(np.zeros(len(work)), lower=np.isin(work, fixed).astype(float), integer=True)
        x_of[work] = x
        z = model.add_cols(self.value[pairs])
        model.add_rows(*csr_from_groups(self.group[pairs], z, np.ones(len(pairs)), self.n_groups), upper=1.0)
        ptr = np.arange(0, 2 * len(pairs) + 1, 2)
        idx = np.empty(2 * len(pairs), dtype=np.int64)
        val = np.empty(2 * len(pairs))
        idx[0::2], val[0::2] = z, 1.0
        idx[1::2], val[1::2] = x_of[self.site[pairs]], -1.0
        model.add_rows(ptr, idx, val, upper=0.0)
        model.add_row(x, np.ones(len(x)), upper=float(k))
        start = np.zeros(model.n_cols)
        start[x_of[start_sites]] = 1.0
        open_pair = np.isin(self.site[pairs], start_sites)
        v = np.where(open_pair, self.value[pairs], -np.inf)
        best = np.full(self.n_groups, -np.inf)
        np.maximum.at(best, self.group[pairs], v)
        hit = open_pair & (v == best[self.group[pairs]]) & (v > 0)
        _, first = np.unique(self.group[pairs][hit], return_index=True)
        start[z[np.flatnonzero(hit)[first]]] = 1.0
        try:
            out = model.solve(time_limit_s=seconds, start=start)
        except RuntimeError:
            return None
        return work[out.x[x] > 0.5], out.status, out.bound


class AllocationProblem:
    """Candidate and existing walks, weights and capacities, checked once; solve either model many times."""

    def __init__(self, candidates: WalkPairs, weights: np.ndarray, *, candidate_ids, capacity=np.inf,
                 existing: WalkPairs | None = None, existing_capacity=np.inf, people: np.ndarray | None = None) -> None:
        """``weights``: what the objective counts per demand point (siting weights); ``people``: what takes a
        place within a site's capacity (default the weights: one weight, one place)."""
        weights, ids = checked_demand(weights, candidate_ids, n_dem=candidates.n_points, n_cand=candidates.n_sites,
                                      rows="candidates")
        if people is None:
            people = weights
        people = np.asarray(people, dtype=np.float64)
        if people.shape != weights.shape or not np.all(np.isfinite(people)) or (people < 0).any():
            msg = f"people must be one non-negative number per demand point ({len(weights)}), got shape {people.shape}"
            raise ValueError(msg)
        if ((weights > 0) & (people <= 0)).any():
            msg = "every demand point with a weight needs at least one person (people > 0)"
            raise ValueError(msg)
        if existing is None:
            existing = WalkPairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), 0, candidates.n_points,
                                 candidates.cutoff_m)
        if existing.n_points != candidates.n_points:
            msg = "existing and candidate walks must be to the same demand points"
            raise ValueError(msg)
        self.cand = candidates
        self.existing = existing
        self.weights = weights
        self.people = people
        self.value_per_person = weight_per_person(weights, people)
        self.candidate_ids = ids
        self.capacity = _check_capacity("capacity", capacity, candidates.n_sites)
        self.existing_capacity = _check_capacity("existing_capacity", existing_capacity, existing.n_sites)
        self.total_weight = float(weights.sum())
        self.n_cand = candidates.n_sites

    # ---- shared -----------------------------------------------------------
    def _all_pairs(self) -> WalkPairs:
        """Existing sites first (0 … E-1), then the candidates (E …)."""
        e = self.existing
        return WalkPairs(np.concatenate([e.site, self.cand.site + e.n_sites]), np.concatenate([e.point, self.cand.point]),
                         np.concatenate([e.metres, self.cand.metres]), e.n_sites + self.n_cand, self.cand.n_points,
                         self.cand.cutoff_m)

    def _result(self, model, method, status, picks, objective, bound, started, *, covered, message="",
                reductions, minimise=False) -> SitingResult:
        picks = np.sort(np.asarray(picks, dtype=np.int64))
        gap = None
        if bound is not None and bound != 0:
            gap = max(0.0, (objective - bound) / objective if minimise else (bound - objective) / bound)
        elif bound is not None:
            gap = 0.0
        return SitingResult(method=method, status=status, chosen=tuple(self.candidate_ids[picks].tolist()),
                            objective=float(objective), bound=None if bound is None else float(bound), gap=gap,
                            total_weight=self.total_weight, solve_s=time.perf_counter() - started,
                            reductions=reductions, message=message, model=model, covered=float(covered))

    def served(self, picks) -> float:
        """Weight of the people served within capacity (nearest with room) with the existing sites and these
        candidates."""
        picks = np.asarray(picks, dtype=np.int64)
        allp = self._all_pairs()
        open_ = np.zeros(allp.n_sites, dtype=bool)
        open_[: self.existing.n_sites] = True
        open_[self.existing.n_sites + picks] = True
        keep = open_[allp.site]
        sub = WalkPairs(allp.site[keep], allp.point[keep], allp.metres[keep], allp.n_sites, allp.n_points, allp.cutoff_m)
        served, _ = served_within_capacity(sub, self.people, np.r_[self.existing_capacity, self.capacity])
        return float(served @ self.value_per_person)

    # ---- capacitated maximal coverage -------------------------------------
    def _capacitated_groups(self):
        """The demand points anyone reaches (weight > 0), renumbered: their weights, people, and their pairs
        (group, site, metres).

        Points are not merged by their site sets: in a dense city hardly two points share one (12,000 points
        made 11,188 groups in the benchmark city) and the merge cost more than it saved.
        """
        allp = self._all_pairs()
        keep = self.weights[allp.point] > 0
        point, site, metres = allp.point[keep], allp.site[keep], allp.metres[keep]
        used, group = np.unique(point, return_inverse=True)
        return self.weights[used], self.people[used], group.ravel(), site, metres

    def _capacitated_greedy(self, k, gw, gp, g_site_g, g_site_s, g_metres):
        """Existing sites take their nearest people up to capacity; then k times the candidate whose nearest
        people left up to its capacity weigh the most (lazy greedy: a candidate's gain only falls) takes them.
        Returns (picks, served weight, served weight after each pick from 0 on)."""
        n_e = self.existing.n_sites
        cap = np.r_[self.existing_capacity, self.capacity]
        vpp = gw / gp  # weight per person of each group
        left = gp.copy()  # people not served yet
        span = float(g_metres.max()) + 1.0 if len(g_metres) else 1.0
        order = np.argsort(g_site_s * span + g_metres)  # by site, nearest first (one float key: faster than lexsort)
        s_sorted, g_sorted = g_site_s[order], g_site_g[order]
        s_ptr = np.searchsorted(s_sorted, np.arange(len(cap) + 1))

        def nearest_up_to_capacity(s):
            """(groups, people each) site s would take: its nearest people left, up to its capacity."""
            seg = g_sorted[s_ptr[s]:s_ptr[s + 1]]
            lp = left[seg]
            before = np.cumsum(lp) - lp
            return seg, np.minimum(lp, np.maximum(0.0, cap[s] - before))

        def take(s):
            seg, t = nearest_up_to_capacity(s)
            left[seg] -= t
            return float(t @ vpp[seg])

        ex = np.flatnonzero(g_site_s < n_e)
        ex = ex[np.argsort(g_metres[ex], kind="stable")]
        _assign_nearest(ex, g_site_s, g_site_g, left, cap.copy(), np.zeros(len(g_site_s)))
        served = float((gp - left) @ vpp)

        def gain(j):
            seg, t = nearest_up_to_capacity(n_e + j)
            return float(t @ vpp[seg])

        heap = [(-gain(j), j) for j in range(self.n_cand) if s_ptr[n_e + j + 1] > s_ptr[n_e + j]]
        heapq.heapify(heap)
        picks = []
        prefix = [served]
        while heap and len(picks) < k:
            neg, j = heapq.heappop(heap)
            now = gain(j)
            if heap and now < -heap[0][0] - 1e-12:
                heapq.heappush(heap, (-now, j))
                continue
            if now <= 0:
                break
            served += take(n_e + j)
            picks.append(j)
            prefix.append(served)
        return np.array(picks, dtype=np.int64), served, np.array(prefix)

    def solve_capacitated(self, k: int, *, method: str = "exact", time_limit_s: float = 60.0) -> SitingResult:
        """The k new sites that let the most weight be served within every site's capacity and the walk."""
        if k < 0:
            msg = f"k must be a non-negative number of sites, got {k}"
            raise ValueError(msg)
        started = time.perf_counter()
        gw, gp, pg, ps, pm = self._capacitated_groups()
        n_e = self.existing.n_sites
        red = Reductions(demand_in=self.cand.n_points, demand_kept=len(gw), candidates_in=self.n_cand,
                         candidates_kept=len(np.unique(ps[ps >= n_e])))
        picks, greedy_served, _ = self._capacitated_greedy(k, gw, gp, pg, ps, pm)
        if method == "greedy":
            return self._result("capacitated", "greedy", "heuristic", picks, greedy_served, None, started,
                                covered=greedy_served, reductions=red)
        # a site serves at most its capacity and at most the people it reaches (inf capacity: no limit) ...
        reach = np.bincount(ps, weights=gp[pg], minlength=n_e + self.n_cand)
        cap = np.minimum(np.r_[self.existing_capacity, self.capacity], reach)
        # ... and so at most the weight of its heaviest people up to that capacity
        site_top = _heaviest_within(ps, gp[pg], gw[pg] / gp[pg], cap)
        upper = min(float(gw.sum()), float(site_top[:n_e].sum() + np.sort(site_top[n_e:])[::-1][:k].sum()))
        if greedy_served >= upper - 1e-9 * max(1.0, upper):  # every site full (or everyone served): proven
            return self._result("capacitated", "exact", "optimal", picks, greedy_served, upper, started,
                                covered=greedy_served, reductions=red,
                                message="已达上界：每个站点满员或所有可达老人均已服务")
        model = Model(maximise=True)
        used = np.unique(ps[ps >= n_e]) - n_e  # candidates reaching anyone
        x_of = np.full(self.n_cand, -1)
        x = model.add_cols(np.zeros(len(used)), integer=True)
        x_of[used] = x
        z = model.add_cols(gw[pg])  # z = share of group g served by site s
        n_pairs = len(pg)
        # each group at most once: sum_s z_gs <= 1
        model.add_rows(*csr_from_groups(pg, z, np.ones(n_pairs), len(gw)), upper=1.0)
        # each site within capacity: sum_g p_g z_gs - C_s x_s <= 0 (existing: <= C_s), p_g the group's people
        cand_pair = ps >= n_e
        indptr, indices, values = csr_from_groups(ps, z, gp[pg], len(cap))
        # append -C x_s to each candidate site's row
        counts = np.diff(indptr)
        extra = np.zeros(len(cap), dtype=np.int64)
        extra[n_e + used] = 1
        new_ptr = np.zeros(len(cap) + 1, dtype=np.int64)
        np.cumsum(counts + extra, out=new_ptr[1:])
        new_idx = np.empty(int(new_ptr[-1]), dtype=np.int64)
        new_val = np.empty(int(new_ptr[-1]))
        body = np.ones(int(new_ptr[-1]), dtype=bool)
        tail = new_ptr[1:][extra == 1] - 1
        body[tail] = False
        new_idx[body], new_val[body] = indices, values
        new_idx[tail], new_val[tail] = x_of[np.flatnonzero(extra) - n_e], -cap[np.flatnonzero(extra)]
        upper = np.where(np.arange(len(cap)) < n_e, cap, 0.0)
        upper = np.where(np.isfinite(upper), upper, np.inf)
        model.add_rows(new_ptr, new_idx, new_val, upper=upper)
        # z_gs <= min(1, C_s / p_g) x_s for candidate pairs (the tight link that makes the LP no weaker than MCLP);
        # left out on very large models, where the capacity rows alone keep the formulation exact
        cp = np.flatnonzero(cand_pair) if n_pairs <= MAX_LINKED_PAIRS else np.zeros(0, dtype=np.int64)
        link = np.minimum(1.0, cap[ps[cp]] / gp[pg[cp]])
        ptr = np.arange(0, 2 * len(cp) + 1, 2)
        idx2 = np.empty(2 * len(cp), dtype=np.int64)
        val2 = np.empty(2 * len(cp))
        idx2[0::2], val2[0::2] = z[cp], 1.0
        idx2[1::2], val2[1::2] = x_of[ps[cp] - n_e], -link
        model.add_rows(ptr, idx2, val2, upper=0.0)
        model.add_row(x, np.ones(len(x)), upper=float(k))
        start = self._capacitated_start(picks, gp, pg, ps, pm, x_of, model.n_cols, len(x))
        out = model.solve(time_limit_s=time_limit_s, start=start)
        chosen = used[out.x[x] > 0.5]
        objective = float(out.x[z] @ gw[pg])
        status = out.status
        bound = max(out.bound, objective) if status == "optimal" else out.bound
        msg = "" if status == "optimal" else f"time limit {time_limit_s:g} s reached; best found returned"
        return self._result("capacitated", "exact", status, chosen, objective, bound, started, covered=objective,
                            reductions=red, message=msg)

    def _capacitated_start(self, picks, gp, pg, ps, pm, x_of, n_cols, n_x):
        """The heuristic's sites with an optimal-enough assignment for them: nearest first, as in served()."""
        n_e = self.existing.n_sites
        cap = np.r_[self.existing_capacity, self.capacity]
        open_ = np.zeros(len(cap), dtype=bool)
        open_[:n_e] = True
        open_[n_e + picks] = True
        left = gp.copy()
        room = cap.copy()
        flow = np.zeros(len(pg))
        order = np.argsort(pm, kind="stable")
        order = order[open_[ps[order]]]
        _assign_nearest(order, ps, pg, left, room, flow)
        x = np.zeros(n_cols)
        x[x_of[picks]] = 1.0
        x[n_x:n_x + len(pg)] = flow / gp[pg]  # the share of each group's people served
        return x

    # ---- p-median ---------------------------------------------------------
    def _walk_now(self, penalty_m: float) -> np.ndarray:
        """Each point's walk to the nearest existing site, ``penalty_m`` where none is within the limit."""
        now = np.full(self.cand.n_points, penalty_m)
        if len(self.existing.site):
            np.minimum.at(now, self.existing.point, self.existing.metres)
        return now

    def _pmedian_inputs(self, penalty_m: float):
        """Each point's walk now (existing sites, else the penalty) and the candidate pairs that beat it."""
        now = self._walk_now(float(penalty_m))
        saving = now[self.cand.point] - self.cand.metres
        keep = (saving > 1e-9) & (self.weights[self.cand.point] > 0)
        return now, self.cand.site[keep], self.cand.point[keep], saving[keep]

    def _pmedian_greedy(self, k, site, point, saving, w, *, swap_seconds):
        """Greedy by total weighted saving, then drop-add swaps (each chosen site out, the best one in) until
        no swap helps or the time is up. Works on pairs sorted by point."""
        n_points = int(point.max()) + 1 if len(point) else 0

        def best_saving(open_):
            s = np.where(open_[site], saving, 0.0)
            out = np.zeros(n_points)
            if len(s):
                np.maximum.at(out, point, s)
            return out

        def gains(cur):
            return np.bincount(site, weights=w[point] * np.maximum(0.0, saving - cur[point]), minlength=self.n_cand)

        open_ = np.zeros(self.n_cand, dtype=bool)
        cur = np.zeros(n_points)
        for _ in range(min(k, self.n_cand)):
            g = gains(cur)
            g[open_] = -1
            j = int(np.argmax(g))
            if g[j] <= 1e-12:
                break
            open_[j] = True
            mine = site == j
            np.maximum.at(cur, point[mine], saving[mine])
        total = float((w[:n_points] * cur).sum())
        deadline = time.perf_counter() + swap_seconds
        improved = True
        while improved and time.perf_counter() < deadline:
            improved = False
            for j in np.flatnonzero(open_):
                if time.perf_counter() >= deadline:
                    break
                open_[j] = False
                without = best_saving(open_)
                g = gains(without)
                g[open_] = -1
                c = int(np.argmax(g))
                value = float((w[:n_points] * without).sum()) + max(0.0, float(g[c]))
                if c != j and value > total + 1e-9:
                    open_[c] = True
                    total = value
                    improved = True
                else:
                    open_[j] = True
        return np.flatnonzero(open_), total

    def solve_pmedian(self, k: int, *, penalty_m: float | None = None, method: str = "exact",
                      time_limit_s: float = 60.0, swap_seconds: float = 0.2) -> SitingResult:
        """The k new sites minimising the total weighted walk to the nearest open site; a point beyond the walking
        limit counts at ``penalty_m`` (default: the limit). The objective is weighted metres; ``covered`` is the
        weight within the limit."""
        if k < 0:
            msg = f"k must be a non-negative number of sites, got {k}"
            raise ValueError(msg)
        penalty = self.cand.cutoff_m if penalty_m is None else float(penalty_m)
        if penalty < self.cand.cutoff_m:
            msg = f"penalty_m ({penalty:g}) must be at least the walking limit ({self.cand.cutoff_m:g} m)"
            raise ValueError(msg)
        started = time.perf_counter()
        now, site, point, saving = self._pmedian_inputs(penalty)
        base = float(self.weights @ now)
        # merge points with identical (site, saving) rows; weights summed
        order = np.lexsort((site, point))
        site, point, saving = site[order], point[order], saving[order]
        starts, ends = _runs(point)
        groups: dict[bytes, int] = {}
        pg = np.empty(len(starts), dtype=np.int64)
        for n, (a, b) in enumerate(zip(starts, ends, strict=True)):
            pg[n] = groups.setdefault(site[a:b].tobytes() + np.round(saving[a:b], 6).tobytes(), len(groups))
        gw = np.bincount(pg, weights=self.weights[point[starts]], minlength=len(groups))
        first = np.zeros(len(groups), dtype=np.int64)
        first[pg[::-1]] = np.arange(len(pg))[::-1]
        keep_pair = np.repeat(first[pg] == np.arange(len(pg)), ends - starts)  # the first point speaks for its group
        g_of_pair = np.repeat(pg, ends - starts)
        gs, gp, gv = site[keep_pair], g_of_pair[keep_pair], saving[keep_pair]
        red = Reductions(demand_in=self.cand.n_points, demand_kept=len(groups), candidates_in=self.n_cand,
                         candidates_kept=len(np.unique(gs)))
        within_now = np.zeros(self.cand.n_points, dtype=bool)
        within_now[self.existing.point] = True  # existing pairs are within the limit by construction
        picks, saved = self._pmedian_greedy(k, gs, gp, gv, gw, swap_seconds=swap_seconds)

        def covered_with(chosen):
            hit = within_now.copy()
            mask = np.isin(self.cand.site, chosen)
            hit[self.cand.point[mask]] = True
            return float(self.weights[hit].sum())

        if method == "greedy" or len(gs) == 0 or k == 0:
            status = "heuristic" if method == "greedy" else "optimal"
            return self._result("pmedian", "greedy" if method == "greedy" else "exact", status, picks, base - saved,
                                None if method == "greedy" else base - saved, started, covered=covered_with(picks),
                                reductions=red, minimise=True)
        chosen, saved_true, bound, status = _PMedianLagrange(gs, gp, gv, gw, self.n_cand).solve(
            k, picks, time_limit_s=time_limit_s)
        msg = "" if status == "optimal" else f"time limit {time_limit_s:g} s reached; best found returned"
        return self._result("pmedian", "exact", status, chosen, base - saved_true,
                            base - saved_true if status == "optimal" else base - bound, started,
                            covered=covered_with(chosen), reductions=red, message=msg, minimise=True)

    def pmedian_cost(self, picks, penalty_m: float | None = None) -> float:
        """Total weighted walk with the existing sites and these candidates open (a point beyond the limit at the
        penalty) — the p-median objective, computed directly."""
        now = self._walk_now(self.cand.cutoff_m if penalty_m is None else float(penalty_m))
        mask = np.isin(self.cand.site, np.asarray(picks, dtype=np.int64))
        np.minimum.at(now, self.cand.point[mask], self.cand.metres[mask])
        return float(self.weights @ now)

    def served_curve(self, max_k: int) -> np.ndarray:
        """Served weight after the capacitated greedy's first k picks, k = 0 … max_k, from one greedy run (each
        pick's nearest groups up to its capacity: a feasible assignment, so a lower bound at every k)."""
        gw, gp, pg, ps, pm = self._capacitated_groups()
        prefix = self._capacitated_greedy(max_k, gw, gp, pg, ps, pm)[2]
        return np.r_[prefix, np.full(max_k + 1 - len(prefix), prefix[-1])]
