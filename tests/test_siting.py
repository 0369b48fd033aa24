"""Siting (MCLP / LSCP): known optima, brute force on random instances, greedy never better."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from planning.siting import SitingProblem

# Five candidates over eight demand points (weights in brackets):
#   a: d0 d1 d2      b: d2 d3      c: d3 d4 d5      d: d5 d6 d7      e: d0 d1 (inside a: dominated)
#   d0[5] d1[1] d2[2] d3[4] d4[1] d5[3] d6[2] d7[6]; d7 is already covered by an existing station.
COVER = {"a": [0, 1, 2], "b": [2, 3], "c": [3, 4, 5], "d": [5, 6, 7], "e": [0, 1]}
WEIGHTS = np.array([5, 1, 2, 4, 1, 3, 2, 6], dtype=float)


def tiny():
    rows = [i for i, c in enumerate(COVER) for _ in COVER[c]]
    cols = [d for c in COVER for d in COVER[c]]
    m = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(5, 8))
    covered = np.zeros(8, dtype=bool)
    covered[7] = True
    return SitingProblem(m, WEIGHTS, candidate_ids=list(COVER), covered_now=covered)


def test_reductions_on_the_tiny_instance():
    p = tiny()
    # d7 is covered already; nothing else merges except d0/d1 (both only under a and e)
    assert p.reductions.demand_kept == 6
    assert p.reductions.candidates_kept == 4  # e lies inside a
    assert p.base_weight == 6 and p.total_weight == 24


@pytest.mark.parametrize(("k", "chosen", "objective"), [
    (1, ("a",), 6 + 8),            # a covers 5+1+2
    (2, ("a", "c"), 6 + 8 + 8),    # then c: 4+1+3
    (3, ("a", "c", "d"), 6 + 8 + 8 + 2),
    (4, ("a", "b", "c", "d"), 24),  # b adds nothing new, but the budget allows it
])
def test_mclp_known_optima(k, chosen, objective):
    r = tiny().solve_mclp(k)
    assert r.status == "optimal" and r.objective == objective and r.gap == pytest.approx(0.0, abs=1e-9)
    if k < 4:
        assert r.chosen == chosen
    assert r.share == pytest.approx(objective / 24)


def test_lscp_fewest_sites():
    p = tiny()
    r = p.solve_lscp(20 / 24)  # needs 14 more: a (8) + c (8)
    assert r.status == "optimal" and r.chosen == ("a", "c")
    assert p.solve_lscp(0.2).chosen == () and "already reached" in p.solve_lscp(0.2).message
    everyone = p.solve_lscp(1.0)  # a, c and d together reach every point
    assert everyone.status == "optimal" and everyone.chosen == ("a", "c", "d") and everyone.share == 1.0


def test_unreachable_target_is_explained():
    m = sparse.csr_matrix(np.array([[1, 0, 0]]))
    p = SitingProblem(m, np.array([1.0, 1.0, 1.0]), candidate_ids=["x"])
    r = p.solve_lscp(0.9)
    assert r.status == "infeasible" and "the most they reach is 33.3%" in r.message


def test_bad_arguments_are_named():
    m = sparse.csr_matrix(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"one value per demand point \(3\)"):
        SitingProblem(m, np.ones(2), candidate_ids=["a", "b"])
    with pytest.raises(ValueError, match="2 candidate ids"):
        SitingProblem(sparse.csr_matrix(np.ones((3, 3))), np.ones(3), candidate_ids=["a", "b"])
    with pytest.raises(ValueError, match="non-negative"):
        SitingProblem(m, np.array([1.0, -1.0, 1.0]), candidate_ids=["a", "b"])
    p = SitingProblem(m, np.ones(3), candidate_ids=["a", "b"])
    with pytest.raises(ValueError, match="k must be"):
        p.solve_mclp(-1)
    with pytest.raises(ValueError, match=r"target_share must be in \(0, 1\]"):
        p.solve_lscp(1.5)


def brute(m, w, covered, k):
    best = float(w[covered].sum())
    for combo in itertools.combinations(range(m.shape[0]), min(k, m.shape[0])):
        hit = covered | (np.asarray(m[list(combo)].sum(axis=0)).ravel() > 0)
        best = max(best, float(w[hit].sum()))
    return best


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 100_000), n_cand=st.integers(1, 9), n_dem=st.integers(1, 25), k=st.integers(1, 4),
       density=st.floats(0.05, 0.6))
def test_exact_equals_brute_force_and_greedy_never_beats_it(seed, n_cand, n_dem, k, density):
    rng = np.random.default_rng(seed)
    m = sparse.csr_matrix(rng.uniform(size=(n_cand, n_dem)) < density)
    w = rng.integers(0, 20, n_dem).astype(float)
    covered = rng.uniform(size=n_dem) < 0.2
    p = SitingProblem(m, w, candidate_ids=np.arange(n_cand), covered_now=covered)
    exact = p.solve_mclp(k)
    greedy = p.solve_greedy(k)
    assert exact.status == "optimal"
    assert exact.objective == pytest.approx(brute(m, w, covered, k))
    plain = SitingProblem(m, w, candidate_ids=np.arange(n_cand), covered_now=covered, reduce=False)
    assert plain.solve_mclp(k).objective == pytest.approx(exact.objective)  # reductions change nothing
    assert greedy.objective <= exact.objective + 1e-9
    assert greedy.bound is None or greedy.bound >= exact.objective - 1e-6
    assert len(exact.chosen) <= k
    # the chosen ids really cover what the result claims
    rows = [list(p.candidate_ids).index(c) for c in exact.chosen]
    hit = covered | (np.asarray(m[rows].sum(axis=0)).ravel() > 0) if rows else covered
    assert float(w[hit].sum()) == pytest.approx(exact.objective)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 100_000), k=st.integers(1, 5))
def test_one_more_site_never_lowers_the_optimum(seed, k):
    rng = np.random.default_rng(seed)
    m = sparse.csr_matrix(rng.uniform(size=(8, 30)) < 0.2)
    p = SitingProblem(m, rng.integers(1, 9, 30).astype(float), candidate_ids=np.arange(8))
    assert p.solve_mclp(k + 1).objective >= p.solve_mclp(k).objective - 1e-9


# ---- equity, budget, curve (issue 17) -------------------------------------------------------------
# Township 甲 holds d0-d3 (weight 12, nothing covered), 乙 d4-d7 (weight 12, d7's 6 covered now).
TOWNSHIP = np.array([0, 0, 0, 0, 1, 1, 1, 1])


def tiny_labelled(costs=None):
    rows = [i for i, c in enumerate(COVER) for _ in COVER[c]]
    cols = [d for c in COVER for d in COVER[c]]
    m = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(5, 8))
    covered = np.zeros(8, dtype=bool)
    covered[7] = True
    return SitingProblem(m, WEIGHTS, candidate_ids=list(COVER), covered_now=covered, labels=TOWNSHIP, costs=costs)


def test_equity_floor_changes_the_choice():
    from planning.siting import Floor

    p = tiny_labelled()
    assert p.solve_mclp(1).chosen == ("a",)  # a: 甲 8/12, 乙 6/12
    r = p.solve_equity(1, [Floor("乙", (1,), 0.75)])  # 乙 needs 3 more: c adds 4 (d4, d5), d adds 5
    assert r.status == "optimal" and r.chosen == ("c",) and r.objective == 14
    assert dict((n, s) for n, s, _ in r.floor_shares)["乙"] == pytest.approx(10 / 12)


def test_equity_infeasible_names_the_township():
    from planning.siting import Floor

    p = tiny_labelled()
    r = p.solve_equity(1, [Floor("甲", (0,), 0.9), Floor("乙", (1,), 0.5)])  # 甲 needs 10.8: a alone gives 8
    assert r.status == "infeasible" and "甲 单独就需新增 2 个站点" in r.message and "乙" not in r.message
    m = sparse.csr_matrix(np.array([[1, 0, 0]]))  # nobody reaches d1, d2 of 丙
    q = SitingProblem(m, np.ones(3), candidate_ids=["x"], labels=np.array([0, 0, 0]))
    r = q.solve_equity(3, [Floor("丙", (0,), 0.5)])
    assert r.status == "infeasible" and "丙 最多可达 33.3%，低于下限 50%" in r.message


def test_equity_maximin_raises_the_lowest_township():
    from planning.siting import Floor

    p = tiny_labelled()
    floors = [Floor("甲", (0,), 0.0), Floor("乙", (1,), 0.0)]
    one = p.solve_equity(1, floors, maximin=True)  # a or b give min share 0.5; a covers more
    assert one.chosen == ("a",) and min(s for _, s, _ in one.floor_shares) == pytest.approx(0.5)
    two = p.solve_equity(2, floors, maximin=True)  # a + c: 甲 12/12, 乙 10/12
    assert two.chosen == ("a", "c") and min(s for _, s, _ in two.floor_shares) == pytest.approx(10 / 12)
    assert two.objective == 22 and "乙" in two.message


def test_budget_buys_more_with_cheap_sites():
    p = tiny_labelled(costs=np.array([3.0, 1.0, 2.0, 1.0, 1.0]))  # e is cheaper than a, so not dominated
    assert p.reductions.candidates_kept == 5
    r = p.solve_budget(3)  # b + d + e cost 3 and add 17: d0 d1 (e), d2 d3 (b), d5 d6 (d)
    assert r.status == "optimal" and r.chosen == ("b", "d", "e") and r.objective == 23 and r.cost == 3
    assert p.solve_budget(0.5).chosen == () and "no candidate fits" in p.solve_budget(0.5).message
    g = p.solve_budget(3, method="greedy")
    assert g.objective <= r.objective and g.cost <= 3


def test_curve_greedy_values_exact_points_and_elbow():
    from planning.siting import elbow_of

    c = tiny().curve(4, exact_at=(2,))
    assert c.greedy.tolist() == [6, 14, 22, 24, 24]  # a, then c, then d adds d6 only
    assert c.exact[2].objective == 22 and c.elbow == 2
    # Kneedle by hand: normalised (v - 6) / 18 minus k / 4 peaks at k = 2 (0.389)
    assert elbow_of(np.array([0, 5, 9, 10, 10, 10])) == 2 and elbow_of(np.array([3, 3, 3])) == 0


def brute_constrained(m, w, covered, labels, k=None, costs=None, budget=None, floors=()):
    best = None
    n = m.shape[0]
    for r in range(n + 1):
        for combo in itertools.combinations(range(n), r):
            if k is not None and r > k or budget is not None and costs[list(combo)].sum() > budget + 1e-9:
                continue
            hit = covered | (np.asarray(m[list(combo)].sum(axis=0)).ravel() > 0) if combo else covered.copy()
            if any(w[hit & np.isin(labels, f.labels)].sum() < f.share * w[np.isin(labels, f.labels)].sum() - 1e-7
                   for f in floors):
                continue
            best = max(best or 0.0, float(w[hit].sum()))
    return best


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 100_000), n_cand=st.integers(1, 7), n_dem=st.integers(2, 16), k=st.integers(1, 3),
       share=st.floats(0.0, 0.9), budget=st.floats(0.5, 6))
def test_equity_and_budget_equal_brute_force(seed, n_cand, n_dem, k, share, budget):
    from planning.siting import Floor

    rng = np.random.default_rng(seed)
    m = sparse.csr_matrix(rng.uniform(size=(n_cand, n_dem)) < 0.35)
    w = rng.integers(1, 20, n_dem).astype(float)
    covered = rng.uniform(size=n_dem) < 0.2
    labels = rng.integers(0, 2, n_dem)
    costs = rng.integers(1, 4, n_cand).astype(float)
    p = SitingProblem(m, w, candidate_ids=np.arange(n_cand), covered_now=covered, labels=labels, costs=costs)
    floors = [Floor("甲", (0,), share), Floor("乙", (1,), share)]
    best = brute_constrained(m, w, covered, labels, k=k, floors=floors)
    r = p.solve_equity(k, floors)
    if best is None:
        assert r.status == "infeasible" and ("甲" in r.message or "乙" in r.message or "合起来" in r.message)
    else:
        assert r.status == "optimal" and r.objective == pytest.approx(best)
        assert all(s >= f - 1e-7 for _, s, f in r.floor_shares)
    assert p.solve_budget(budget).objective == pytest.approx(brute_constrained(m, w, covered, labels, costs=costs,
                                                                                budget=budget))


def test_group_labels_by_hand():
    """Township index × 2 + rural; floors only for named townships with points, and for villages / towns only
    when the demand says which is which."""
    from planning.siting import Floor, group_labels

    labels, floors = group_labels(["b", "a", "", "b"], [True, False, True, False], names={"a": "甲"},
                                  all_townships=["c"], township_floor=0.5, rural_floor=0.4, urban_floor=0.3)
    # codes sorted: "" 0, a 1, b 2, c 3
    assert labels.tolist() == [2 * 2 + 1, 2 * 1, 0 + 1, 2 * 2]
    assert floors == (Floor("甲", (2, 3), 0.5), Floor("b", (4, 5), 0.5), Floor("农村（村委会）", (1, 3, 5, 7), 0.4),
                      Floor("城镇（居委会）", (0, 2, 4, 6), 0.3))
    labels, floors = group_labels(["a", "a"], None, rural_floor=0.4, urban_floor=0.3)
    assert labels.tolist() == [0, 0] and floors == ()
