"""Siting benchmark (issue 4): ours vs spopt's MCLP and vs HiGHS without our reductions.

Built from the demo district's roads: 2,000 candidate sites, the existing
operating care facilities kept, k = 30 new sites, 15 minutes at 1.0 m/s. The
candidates are made as the 情景规划 page makes them: street nodes next to the
most uncovered elders, at most one per 250 m square (``--candidates random``:
2,000 network nodes drawn at random, the earlier, easier instance).
  A: 5,000 demand points — ours (reductions + HiGHS) vs spopt MCLP via PuLP + CBC
     (its documented route; model build and solve timed together); objectives must match.
  B: 50,000 demand points — ours to proven optimum vs the same MCLP handed to HiGHS
     without reductions (time limit 120 s, so the ratio is a lower bound); greedy + swap.
Last line: RESULT exact_a_s=... spopt_a_s=... speedup_vs_spopt=... exact_b_s=...
plain_highs_b_s=... greedy_b_s=... greedy_share=...

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
    from data.demo import build_demo

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plain-time-limit", type=float, default=120.0)
    ap.add_argument("--repeat", type=int, default=5, help="runs of our solver and greedy (medians printed)")
    ap.add_argument("--plain-repeat", type=int, default=3, help="runs of the unreduced HiGHS baseline")
    ap.add_argument("--candidates", choices=["underserved", "random"], default="underserved")
    a = ap.parse_args()
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
        f"exact_b_s={exact_b:.2f} plain_highs_b_s={plain_s:.1f} greedy_b_s={greedy_s:.3f} greedy_share={share:.4f}"
    )


if __name__ == "__main__":
    main()
