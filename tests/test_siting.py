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
