"""Siting benchmark (issues 4 and 17): ours vs spopt's MCLP and PMedian and vs HiGHS without our reductions.

Built from the demo district's roads: 2,000 candidate sites, the existing
operating care facilities kept, k = 30 new sites, 15 minutes at 1.0 m/s. The
candidates are made as the 情景规划 page makes them: street nodes next to the
most uncovered elders, at most one per 250 m square (``--candidates random``:
2,000 network nodes drawn at random, the earlier, easier instance).
  A: 5,000 demand points — ours (reductions + HiGHS) vs spopt MCLP via PuLP + CBC
     (its documented route; model build and solve timed together); objectives must match.
  B: 50,000 demand points — ours to proven optimum vs the same MCLP handed to HiGHS
     without reductions (time limit 120 s, so the ratio is a lower bound); greedy + swap.
  U: a dense city (bench/urban.py: Hexi's density, 242,000 elders in 12,000 buildings, 110 stations of
     600 places, 2,000 candidates gathered where elders are beyond capacity, one per 125 m square), k = 30:
     capacitated MCLP and p-median to proven optimum (or the time limit, with the gap); spopt's PMedian
     (PuLP + CBC, dense cost matrix) against ours on a cut of the city small enough for it; the coverage
     curve k = 1 … 60 (greedy at every k, exact every 10) with the served-within-capacity curve; the
     heuristics' share of the optimum and their time.
Last line: RESULT exact_a_s=... spopt_a_s=... speedup_vs_spopt=... exact_b_s=...
plain_highs_b_s=... greedy_b_s=... greedy_share=... urban_capacitated_s=... urban_pmedian_s=...
spopt_pmedian_s=... speedup_vs_spopt_pmedian=... curve_s=... heuristic_min_share=... heuristic_max_s=...

Times are medians (ours and greedy: --repeat, plain HiGHS: --plain-repeat;
spopt once, as it takes tens of seconds).

Usage: pip install -r bench/requirements.txt && python bench/siting.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import median_time  # noqa: E402
from geo.network import network_from_lines  # noqa: E402
from geo.reach import PointIndex, Reach, coverage_matrix  # noqa: E402
from geo.snapping import snap_points  # noqa: E402
from planning.candidates import underserved_candidates  # noqa: E402
from planning.coverage import CoverageModel  # noqa: E402
from planning.siting import SitingProblem  # noqa: E402

CUTOFF_M = 900.0
K = 30
N_CANDIDATES = 2000


def demo_inputs(rng, candidates: str):
    from config import load_config
    from demo import build_demo

    bundle = build_demo(seed=42)
    net = network_from_lines([r["geom"] for r in bundle.roads])
    care = {k.id for k in load_config().facility_kinds if k.care_service}
    fac = [f for f in bundle.facilities if f["kind_id"] in care and f["status"] == "operating"]
    fac_s = snap_points(net, np.array([(f["geom"].x, f["geom"].y) for f in fac]), np.arange(len(fac)), max_snap_m=300)
    groups = bundle.elder_groups
    counts = np.array([g["age_60_69"] + g["age_70_79"] + g["age_80_plus"] for g in groups])
    centre = np.repeat(np.array([(g["geom"].x, g["geom"].y) for g in groups]), counts, axis=0)
    elders = centre + rng.normal(0, 0.0012, centre.shape)
    if candidates == "random":
        cand_lonlat = net.node_lonlat[rng.choice(net.n_nodes, N_CANDIDATES, replace=False)]
    else:
        all_s = snap_points(net, elders, np.arange(len(elders)), max_snap_m=300)
        ones = np.ones(len(elders))
        model = CoverageModel(net, all_s, ones, categories=("w",), area_of_demand=np.zeros(len(elders)))
        covered = model.evaluate(fac_s, cutoff_m=CUTOFF_M).covered
        cand_lonlat = underserved_candidates(net, all_s, ones, covered, spacing_m=250.0,
                                             max_count=N_CANDIDATES).lonlat
    cand_s = snap_points(net, cand_lonlat, np.arange(len(cand_lonlat)), max_snap_m=300)
    return net, fac_s, cand_s, elders


def instance(net, fac_s, cand_s, elders, n_demand, rng):
    pick = rng.choice(len(elders), n_demand, replace=False)
    dem = snap_points(net, elders[pick], np.arange(n_demand), max_snap_m=300)
    weights = rng.integers(1, 4, n_demand).astype(float)  # e.g. 80+ and 失能 weigh more
    model = CoverageModel(net, dem, weights, categories=("w",), area_of_demand=np.zeros(n_demand))
    now = model.evaluate(fac_s, cutoff_m=CUTOFF_M)
    t = time.perf_counter()
    matrix = coverage_matrix(Reach(net), PointIndex(net, dem), cand_s, dem, cutoff_m=CUTOFF_M)
    matrix_s = time.perf_counter() - t
    existing = coverage_matrix(Reach(net), PointIndex(net, dem), fac_s, dem, cutoff_m=CUTOFF_M)
    return weights, now.covered, matrix, existing, matrix_s


def ours(matrix, weights, covered, *, time_limit=60.0):
    problem = SitingProblem(matrix, weights, candidate_ids=np.arange(matrix.shape[0]), covered_now=covered)
    return problem.solve_mclp(K, time_limit_s=time_limit)


def spopt_mclp(matrix, existing, weights):
    import pulp
    from spopt.locate import MCLP

    t = time.perf_counter()
    full = np.vstack([matrix.toarray(), existing.toarray()]).T  # demand x (candidates + existing)
    cost = np.where(full, 0.0, 10 * CUTOFF_M)
    predefined = np.r_[np.zeros(matrix.shape[0], dtype=bool), np.ones(existing.shape[0], dtype=bool)]
    mclp = MCLP.from_cost_matrix(cost, weights, service_radius=CUTOFF_M, p_facilities=K + existing.shape[0],
                                 predefined_facilities_arr=predefined)
    mclp = mclp.solve(pulp.PULP_CBC_CMD(msg=False))
    elapsed = time.perf_counter() - t
    return elapsed, float(pulp.value(mclp.problem.objective))


def urban_inputs():
    from bench.urban import city
    from geo.reach import walk_pairs
    from planning.allocation import served_within_capacity

    lines, buildings, elders, stations = city()
    net = network_from_lines(lines)
    dem = snap_points(net, buildings, np.arange(len(buildings)), max_snap_m=300)
    ex = snap_points(net, stations, np.arange(len(stations)), max_snap_m=300)
    index = PointIndex(net, dem)
    existing = walk_pairs(Reach(net), index, ex, dem, cutoff_m=CUTOFF_M)
    cap = np.full(len(stations), 600.0)
    served, _ = served_within_capacity(existing, elders, cap)
    share_served = np.where(elders > 0, served / elders, 1.0)
    cands = underserved_candidates(net, dem, elders, share_served, spacing_m=125.0, max_count=N_CANDIDATES)
    cs = snap_points(net, cands.lonlat, np.arange(len(cands)), max_snap_m=300)
    pairs = walk_pairs(Reach(net), index, cs, dem, cutoff_m=CUTOFF_M)
    covered = np.zeros(len(elders), dtype=bool)
    covered[existing.point] = True
    return net, elders, existing, cap, pairs, covered, dem


def spopt_pmedian(pairs, existing, weights, penalty):
    """spopt's PMedian on a dense cost matrix (walks, the penalty where beyond the limit), existing sites kept."""
    import pulp
    from spopt.locate import PMedian

    t = time.perf_counter()
    n_c, n_e = pairs.n_sites, existing.n_sites
    cost = np.full((pairs.n_points, n_c + n_e), penalty)
    cost[pairs.point, pairs.site] = np.minimum(pairs.metres, penalty)
    cost[existing.point, n_c + existing.site] = np.minimum(existing.metres, penalty)
    predefined = np.r_[np.zeros(n_c, dtype=bool), np.ones(n_e, dtype=bool)]
    model = PMedian.from_cost_matrix(cost, weights, p_facilities=K + n_e, predefined_facilities_arr=predefined)
    model = model.solve(pulp.PULP_CBC_CMD(msg=False))
    return time.perf_counter() - t, float(pulp.value(model.problem.objective))


def urban(repeat: int, time_limit: float, cut_m: float) -> dict:
    from planning.allocation import AllocationProblem

    t = time.perf_counter()
    net, elders, existing, cap, pairs, covered, dem = urban_inputs()
    print(f"[U] city: {net.n_nodes:,} street nodes, {elders.sum():,.0f} elders in {len(elders):,} buildings, "
          f"{existing.n_sites} stations (600 places each), {pairs.n_sites:,} candidates, {len(pairs.site):,} "
          f"candidate walks within {CUTOFF_M:.0f} m; built in {time.perf_counter() - t:.1f} s", flush=True)
    ids = np.arange(pairs.n_sites)
    problem = AllocationProblem(pairs, elders, candidate_ids=ids, capacity=600.0, existing=existing,
                                existing_capacity=cap)
    cap_s, cap_r = median_time(lambda: problem.solve_capacitated(K, time_limit_s=time_limit), repeat)
    print(f"[U] capacitated MCLP k={K}: {cap_s:.2f} s, status {cap_r.status}, served {cap_r.objective:,.0f} "
          f"(bound {cap_r.bound:,.0f}) {cap_r.message}", flush=True)
    pm_s, pm_r = median_time(lambda: problem.solve_pmedian(K, time_limit_s=time_limit), repeat)
    print(f"[U] p-median k={K}: {pm_s:.2f} s, status {pm_r.status}, total walk {pm_r.objective:,.0f} m "
          f"(bound {pm_r.bound:,.0f}, gap {pm_r.gap:.4%})", flush=True)
    cg_s, cg_r = median_time(lambda: problem.solve_capacitated(K, method="greedy"), repeat)
    pg_s, pg_r = median_time(lambda: problem.solve_pmedian(K, method="greedy"), repeat)
    cap_share, pm_share = cg_r.objective / cap_r.objective, pm_r.objective / pg_r.objective
    print(f"[U] heuristics: capacitated {cg_s:.3f} s ({cap_share:.2%} of the optimum), p-median {pg_s:.3f} s "
          f"({pm_share:.2%}: the optimum's walk over the heuristic's)", flush=True)
    # the curve k = 1 … 60: walking coverage (greedy at every k, exact every 10) and served within capacity
    cov = SitingProblem(pairs.coverage(), elders, candidate_ids=ids, covered_now=covered)
    t = time.perf_counter()
    curve = cov.curve(60, exact_at=range(10, 61, 10), time_limit_s=time_limit)
    served = problem.served_curve(60)
    curve_s = time.perf_counter() - t
    print(f"[U] curve k=1..60: {curve_s:.2f} s; elbow k={curve.elbow}; coverage {curve.greedy[0] / elders.sum():.2%}"
          f" -> {curve.greedy[-1] / elders.sum():.2%}; served {served[0] / elders.sum():.2%} -> "
          f"{served[-1] / elders.sum():.2%}", flush=True)
    # spopt's PMedian on a cut: the buildings, candidates and stations inside a square of cut_m metres
    xy = dem.xy
    centre = np.median(xy, axis=0)
    inside = np.flatnonzero(np.all(np.abs(xy - centre) <= cut_m / 2, axis=1))
    cand_in = np.unique(pairs.site[np.isin(pairs.point, inside)])
    cut_pairs = pairs.subset(sites=cand_in, points=inside)
    ex_in = np.unique(existing.site[np.isin(existing.point, inside)])
    cut_ex = existing.subset(sites=ex_in, points=inside)
    cut = AllocationProblem(cut_pairs, elders[inside], candidate_ids=np.arange(len(cand_in)), existing=cut_ex)
    ours_s, ours_r = median_time(lambda: cut.solve_pmedian(K, time_limit_s=time_limit), repeat)
    print(f"[U] cut {cut_m:.0f} m square: {len(inside):,} buildings, {len(cand_in)} candidates, {len(ex_in)} stations;"
          f" ours {ours_s:.3f} s, status {ours_r.status}, total walk {ours_r.objective:,.1f}", flush=True)
    sp_s, sp_obj = spopt_pmedian(cut_pairs, cut_ex, elders[inside], CUTOFF_M)
    print(f"[U] spopt PMedian (PuLP + CBC), build + solve: {sp_s:.2f} s, total walk {sp_obj:,.1f}", flush=True)
    if abs(sp_obj - ours_r.objective) > 1e-6 * max(1.0, sp_obj):
        raise SystemExit(f"p-median objectives differ: ours {ours_r.objective} vs spopt {sp_obj}")
    return {"cap_s": cap_s, "pm_s": pm_s, "sp_s": sp_s, "ours_cut_s": ours_s, "curve_s": curve_s,
            "shares": (cap_share, pm_share), "heur_s": (cg_s, pg_s), "statuses": (cap_r.status, pm_r.status)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plain-time-limit", type=float, default=120.0)
    ap.add_argument("--repeat", type=int, default=5, help="runs of our solver and greedy (medians printed)")
    ap.add_argument("--plain-repeat", type=int, default=3, help="runs of the unreduced HiGHS baseline")
    ap.add_argument("--candidates", choices=["underserved", "random"], default="underserved")
    ap.add_argument("--urban-time-limit", type=float, default=60.0, help="time limit of each urban exact solve")
    ap.add_argument("--cut-m", type=float, default=900.0, help="side of the square cut handed to spopt's PMedian")
    ap.add_argument("--only-urban", action="store_true", help="skip instances A and B")
    a = ap.parse_args()
    u = urban(a.repeat, a.urban_time_limit, a.cut_m)
    urban_line = (f"urban_capacitated_s={u['cap_s']:.2f} urban_pmedian_s={u['pm_s']:.2f} "
                  f"spopt_pmedian_s={u['sp_s']:.2f} speedup_vs_spopt_pmedian={u['sp_s'] / u['ours_cut_s']:.0f} "
                  f"curve_s={u['curve_s']:.2f} heuristic_min_share={min(u['shares']):.4f} "
                  f"heuristic_max_s={max(u['heur_s']):.3f}")
    if a.only_urban:
        print(f"RESULT {urban_line}")
        return
    rng = np.random.default_rng(2026)
    net, fac_s, cand_s, elders = demo_inputs(rng, a.candidates)
    print(f"demo network {net.n_nodes:,} nodes; {int(fac_s.ok.sum())} existing care facilities; "
          f"{len(cand_s.ok):,} {a.candidates} candidates; k={K}; cutoff {CUTOFF_M:.0f} m", flush=True)

    w, cov, m, ex, m_s = instance(net, fac_s, cand_s, elders, 5_000, rng)
    print(f"[A] 5,000 demand: coverage matrix {m_s:.2f} s ({m.nnz:,} pairs)", flush=True)
    exact_a, res_a = median_time(lambda: ours(m, w, cov), a.repeat)
    print(f"[A] ours: {exact_a:.3f} s, status {res_a.status}, objective {res_a.objective:g}, "
          f"model {res_a.reductions.demand_in:,}x{res_a.reductions.candidates_in:,} -> "
          f"{res_a.reductions.demand_kept:,}x{res_a.reductions.candidates_kept:,}", flush=True)
    spopt_a, obj_a = spopt_mclp(m, ex, w)
    print(f"[A] spopt MCLP (PuLP + CBC), build + solve: {spopt_a:.2f} s, objective {obj_a:g}", flush=True)
    if abs(obj_a - res_a.objective) > 1e-6:
        raise SystemExit(f"objectives differ: ours {res_a.objective} vs spopt {obj_a}")

    w, cov, m, ex, m_s = instance(net, fac_s, cand_s, elders, 50_000, rng)
    print(f"[B] 50,000 demand: coverage matrix {m_s:.2f} s ({m.nnz:,} pairs)", flush=True)
    exact_b, res_b = median_time(lambda: ours(m, w, cov), a.repeat)
    print(f"[B] ours: {exact_b:.3f} s, status {res_b.status}, objective {res_b.objective:g}, bound {res_b.bound:g}, "
          f"model -> {res_b.reductions.demand_kept:,}x{res_b.reductions.candidates_kept:,}", flush=True)
    greedy_s, greedy = median_time(lambda: SitingProblem(m, w, candidate_ids=np.arange(m.shape[0]), covered_now=cov)
                                  .solve_greedy(K, with_bound=False), a.repeat)
    share = greedy.objective / res_b.objective
    print(f"[B] greedy + swap: {greedy_s * 1000:.0f} ms, {share:.2%} of the optimum", flush=True)
    plain_s, res_plain = median_time(lambda: SitingProblem(m, w, candidate_ids=np.arange(m.shape[0]), covered_now=cov,
                                                          reduce=False).solve_mclp(K, time_limit_s=a.plain_time_limit),
                                    a.plain_repeat)
    print(f"[B] plain HiGHS (no reductions): {plain_s:.1f} s, status {res_plain.status}, "
          f"objective {res_plain.objective:g}, bound {res_plain.bound:g}", flush=True)
    print(
        f"RESULT exact_a_s={exact_a:.3f} spopt_a_s={spopt_a:.2f} speedup_vs_spopt={spopt_a / exact_a:.0f} "
        f"exact_b_s={exact_b:.2f} plain_highs_b_s={plain_s:.1f} greedy_b_s={greedy_s:.3f} greedy_share={share:.4f} "
        f"{urban_line}"
    )


if __name__ == "__main__":
    main()
